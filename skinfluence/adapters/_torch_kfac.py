"""Kronecker factors of a net's ``nn.Linear`` layers, for the K-FAC and EK-FAC solvers.

The torch adapter's ``kfac`` and ``output_contributions`` capabilities
(:class:`KFACMixin`). For a layer ``s = W a + b`` of the parameter selection and a
row ``i``, the Gauss-Newton block of the row is ``(S_i S_iᵀ) ⊗ (ã_i ã_iᵀ)`` with
``ã_i = [a_i; 1]`` and ``S_i = J_iᵀ R_i`` (``J_i = ∂f/∂s``, ``R_i R_iᵀ = Λ_i`` the
output curvature ``∂²L/∂f²``). One forward pass with hooks records ``a`` and adds a
zero tangent to ``s``; ``K'`` batched vector-Jacobian products in the tangents give
``S`` (:meth:`KFACMixin.kfac_row_factors`). Means over the training rows, in chunks,
give the factors ``A = mean ã ãᵀ`` and ``G = mean S Sᵀ = mean Jᵀ Λ J`` of the K-FAC
block ``G ⊗ A`` (Martens & Grosse 2015; :meth:`KFACMixin.kfac_factors`) and the
EK-FAC eigenvalues (George et al. 2018; :meth:`KFACMixin.ekfac_eigenvalues`); the
recorded ``a`` alone give each parameter's share of its layer's output (seed 004's
"outputs" selection; :meth:`KFACMixin.output_contributions`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.func import vjp, vmap

from ..exceptions import UnsupportedModelError
from ..utils import iter_chunks
from ._torch_checks import _eval_mode, _linear_index

__all__ = ["KFACFactors", "KFACLayer", "KFACMixin"]


@dataclass(frozen=True)
class KFACLayer:
    """An ``nn.Linear`` layer of the parameter selection, as K-FAC sees it.

    The layer computes ``s = W a + b``. Its K-FAC block acts on ``vec([W | b])``
    row-major (row ``o`` of ``W`` followed by ``b[o]``, for ``o = 0..d_out-1``), so the
    block is ``G ⊗ A`` with ``G`` over outputs and ``A`` over ``ã = [a; 1]``.

    Attributes
    ----------
    module : str
        Name of the layer in ``module_.named_modules()``.
    weight, bias : str or None
        Names of its selected parameters; ``bias`` is None when the layer has no bias
        or its bias is not selected (held fixed: then ``ã = a``).
    d_out, d_in : int
        Output and input widths of the layer.
    index : ndarray of shape (d_out * d_a,)
        Position in the adapter's flat ``θ`` of every entry of the block layout
        (``d_a = d_in + 1`` with a bias, ``d_in`` without): ``θ[index]`` is
        ``vec([W | b])`` row-major.
    """

    module: str
    weight: str
    bias: str | None
    d_out: int
    d_in: int
    index: np.ndarray

    @property
    def d_a(self) -> int:
        """Width of ``ã``: ``d_in + 1`` with a bias, else ``d_in``."""
        return self.d_in + (self.bias is not None)


@dataclass(frozen=True)
class KFACFactors:
    """The Kronecker factors of one layer: the K-FAC block is ``G ⊗ A``.

    Attributes
    ----------
    layer : KFACLayer
        The layer and its index map.
    A : ndarray of shape (d_a, d_a)
        ``mean_i ã_i ã_iᵀ`` over the training rows.
    G : ndarray of shape (d_out, d_out)
        ``mean_i J_iᵀ Λ_i J_i`` with ``J_i = ∂f/∂s`` at row ``i`` and ``Λ_i`` the
        output curvature ``∂²L/∂f²`` (an exact expectation over the classes, no
        label sampling).
    """

    layer: KFACLayer
    A: np.ndarray
    G: np.ndarray


class KFACMixin:
    """The ``kfac`` and ``output_contributions`` methods of the torch adapter.

    Mixed into :class:`~skinfluence.adapters._torch.TorchAdapter`.

    Uses the host adapter's ``module``, ``param_names``, ``_layout``, ``_theta``,
    ``_X``, ``n_train``, ``n_params``, ``n_raw_outputs``, ``device``, ``_rows``,
    ``_forward``, ``_output_curvature`` and ``chunk_size``.
    """

    def kfac_layers(self) -> list[KFACLayer]:
        """The ``nn.Linear`` layers that hold the selected parameters, with index maps.

        Returns
        -------
        list of KFACLayer
            In ``module_.named_modules()`` order.

        Raises
        ------
        UnsupportedModelError
            When a selected parameter is not the weight (or, with its weight, the
            bias) of an ``nn.Linear`` layer; the message names them.
        """
        if getattr(self, "_kfac_layers", None) is not None:
            return self._kfac_layers
        starts = {name: begin for name, begin, _, _ in self._layout}
        layers, covered, seen = [], set(), set()
        for name, mod in self.module.named_modules():
            if not isinstance(mod, torch.nn.Linear):
                continue
            prefix = f"{name}." if name else ""
            weight = prefix + "weight"
            if weight not in starts or id(mod.weight) in seen:
                continue
            seen.add(id(mod.weight))
            bias = prefix + "bias" if mod.bias is not None else None
            bias = bias if bias in starts else None
            d_out, d_in = mod.weight.shape
            index = _linear_index(starts, weight, bias, d_out, d_in)
            layers.append(KFACLayer(name, weight, bias, d_out, d_in, index.ravel()))
            covered.update(n for n in (weight, bias) if n is not None)
        other = [n for n in self.param_names if n not in covered]
        if other:
            raise UnsupportedModelError(
                f"K-FAC covers the weights (and biases) of nn.Linear layers only, but the "
                f"parameter selection also holds {other}; pass params='last' (or a list "
                "of nn.Linear weights and biases), or use solver='cg' or 'exact'."
            )
        self._kfac_layers = layers
        return layers

    def kfac_row_factors(self, X) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per-row Kronecker factors of every K-FAC layer on rows ``X``.

        For row ``i`` and a layer ``s = W a + b`` the Gauss-Newton block of the row
        is ``(S_i S_iᵀ) ⊗ (ã_i ã_iᵀ)``, with ``ã_i = [a_i; 1]`` and
        ``S_i = J_iᵀ R_i`` (``J_i = ∂f/∂s``, ``R_i R_iᵀ = Λ_i`` the output
        curvature, ``R_i`` from its eigen-decomposition). One forward pass with
        hooks records ``a`` and adds a zero tangent to ``s``; ``K'`` batched
        vector-Jacobian products in the tangents give ``S``. Rows must be
        independent in the forward pass (true in eval mode for the usual layers).
        K-FAC means these over the training rows; EK-FAC can project them.

        Parameters
        ----------
        X : array-like of shape (n, p)
            Rows.

        Returns
        -------
        list of (ndarray of shape (n, d_a), ndarray of shape (n, d_out, K'))
            ``(ã, S)`` per layer of :meth:`kfac_layers`.

        Raises
        ------
        UnsupportedModelError
            When a layer is not applied exactly once per forward pass to a 2-D
            ``(rows, d_in)`` input.
        """
        layers = self.kfac_layers()
        Xt = self._rows(X)
        b = Xt.shape[0]
        modules = dict(self.module.named_modules())
        zeros = {
            L.module: torch.zeros(b, L.d_out, dtype=torch.float64, device=self.device)
            for L in layers
        }
        calls = {L.module: 0 for L in layers}

        def outputs(tangents):
            acts = {}

            def hook_for(name):
                def hook(mod, inputs, output):
                    calls[name] += 1
                    acts[name] = inputs[0]
                    return output + tangents[name]

                return hook

            handles = [modules[L.module].register_forward_hook(hook_for(L.module)) for L in layers]
            try:
                f = self._forward(self._theta, Xt)
            finally:
                for handle in handles:
                    handle.remove()
            return f, acts

        with _eval_mode(self.module):
            f, vjp_fn, acts = vjp(outputs, zeros, has_aux=True)
            for L in layers:
                if calls[L.module] != 1 or acts[L.module].shape != (b, L.d_in):
                    raise UnsupportedModelError(
                        f"K-FAC needs every nn.Linear layer applied once per forward pass "
                        f"to (rows, features) inputs; layer {L.module!r} ran "
                        f"{calls[L.module]} time(s) on inputs of shape "
                        f"{tuple(acts[L.module].shape) if L.module in acts else None}. "
                        "Use solver='cg' or 'exact'."
                    )
            evals, evecs = torch.linalg.eigh(self._output_curvature(f.detach()))
            R = evecs * evals.clamp_min(0.0).sqrt()[:, None, :]  # Λ = R Rᵀ, (b, K', K')
            (S,) = vmap(vjp_fn, in_dims=2)(R)  # per layer (K', b, d_out)
        out = []
        for L in layers:
            a = acts[L.module].detach()
            if L.bias is not None:
                a = torch.cat([a, torch.ones(b, 1, dtype=a.dtype, device=a.device)], dim=1)
            out.append((a.cpu().numpy(), S[L.module].detach().permute(1, 2, 0).cpu().numpy()))
        return out

    def kfac_factors(self) -> list[KFACFactors]:
        """Kronecker factors ``A`` and ``G`` of every ``nn.Linear`` layer (float64).

        ``A = mean_i ã_i ã_iᵀ`` and ``G = mean_i J_iᵀ Λ_i J_i`` over the training rows
        (:meth:`kfac_row_factors`, in chunks), so that the K-FAC approximation of the
        Gauss-Newton matrix (Martens & Grosse 2015) is block-diagonal over layers with
        blocks ``G ⊗ A``, whatever ``gauss_newton`` says. The penalty ``λ`` is not in
        the factors; the solver adds it.

        Returns
        -------
        list of KFACFactors
            One per layer of :meth:`kfac_layers`.
        """
        layers = self.kfac_layers()
        A = [np.zeros((L.d_a, L.d_a)) for L in layers]
        G = [np.zeros((L.d_out, L.d_out)) for L in layers]
        for rows in iter_chunks(self.n_train, self.chunk_size(self.n_raw_outputs + 2)):
            for j, (a, S) in enumerate(self.kfac_row_factors(self._X[rows])):
                A[j] += a.T @ a
                S2 = S.transpose(1, 0, 2).reshape(S.shape[1], -1)
                G[j] += S2 @ S2.T
        n = self.n_train
        return [KFACFactors(L, A[j] / n, G[j] / n) for j, L in enumerate(layers)]

    def output_contributions(self, X) -> np.ndarray:
        """Return ``mean_i |W[o, j] a_ij|`` (and ``|b[o]|``) of every ``nn.Linear`` layer.

        The size of each parameter's term in its layer's pre-activation on rows ``X``
        (seed 004's "outputs" selection), from the activations :meth:`kfac_row_factors`
        records.

        Parameters
        ----------
        X : array-like of shape (n, p)
            Rows.

        Returns
        -------
        ndarray of shape (m,)

        Raises
        ------
        UnsupportedModelError
            When a selected parameter is not in an ``nn.Linear`` layer.
        """
        layers = self.kfac_layers()
        Xt = self._rows(X)
        sums = [np.zeros(L.d_a) for L in layers]
        for rows in iter_chunks(Xt.shape[0], self.chunk_size(self.n_raw_outputs + 2)):
            for j, (a, _) in enumerate(self.kfac_row_factors(Xt[rows])):
                sums[j] += np.abs(a).sum(axis=0)
        theta = self._theta.detach().cpu().numpy()
        out = np.zeros(self.n_params)
        for L, total in zip(layers, sums, strict=True):
            W = np.abs(theta[L.index]).reshape(L.d_out, L.d_a)
            out[L.index] = (W * (total / max(Xt.shape[0], 1))[None, :]).ravel()
        return out

    def ekfac_eigenvalues(self, bases) -> list[np.ndarray]:
        """Corrected eigenvalues of every K-FAC layer in a Kronecker eigenbasis (EK-FAC).

        For layer ``l`` with basis ``(Q_G, Q_A)`` (orthogonal, e.g. the eigenvectors of
        its ``G`` and ``A``), the diagonal of the layer's exact Gauss-Newton block
        ``mean_i Σ_k (S_ik ⊗ ã_i)(S_ik ⊗ ã_i)ᵀ`` in the basis ``Q_G ⊗ Q_A``
        (George et al. 2018)::

            Λ[o, j] = mean_i (Σ_k (Q_Gᵀ S_i)[o, k]²) · (Q_Aᵀ ã_i)[j]²

        from :meth:`kfac_row_factors` in chunks of training rows.

        Parameters
        ----------
        bases : list of (ndarray of shape (d_out, d_out), ndarray of shape (d_a, d_a))
            ``(Q_G, Q_A)`` per layer of :meth:`kfac_layers`.

        Returns
        -------
        list of ndarray of shape (d_out, d_a)
        """
        layers = self.kfac_layers()
        if len(bases) != len(layers):
            raise ValueError(f"bases must hold one (Q_G, Q_A) pair per layer ({len(layers)}).")
        out = [np.zeros((L.d_out, L.d_a)) for L in layers]
        for rows in iter_chunks(self.n_train, self.chunk_size(self.n_raw_outputs + 2)):
            for j, (a, S) in enumerate(self.kfac_row_factors(self._X[rows])):
                QG, QA = bases[j]
                u = (np.einsum("lo,ilk->iok", QG, S) ** 2).sum(axis=2)  # (rows, d_out)
                v = (a @ QA) ** 2  # (rows, d_a)
                out[j] += u.T @ v
        return [o / self.n_train for o in out]

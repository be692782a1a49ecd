"""K-FAC: a block-diagonal, Kronecker-factored inverse of the Gauss-Newton matrix.

Martens & Grosse (2015), "Optimizing neural networks with Kronecker-factored
approximate curvature", used by seed ``000_c2daca84f3c63cf9.txt`` §4 (Algorithm 2,
line 4; the "KF" of KFSVD). For an ``nn.Linear`` layer ``s = W a + b`` and a row
``i``, the Gauss-Newton block over ``vec([W | b])`` (row-major) is exactly
``(J_iᵀ Λ_i J_i) ⊗ (ã_i ã_iᵀ)`` with ``ã = [a; 1]``, ``J_i = ∂f/∂s`` and ``Λ_i`` the
curvature of the loss in the outputs ``f``. K-FAC replaces the mean of these
Kronecker products by the Kronecker product of the means and drops the blocks
between layers::

    H ≈ blockdiag_l (G_l ⊗ A_l) + diag(λ) + damping·I
    A_l = mean_i ã_i ã_iᵀ,   G_l = mean_i J_iᵀ Λ_i J_i

(factors from :meth:`TorchAdapter.kfac_factors
<skinfluence.adapters._torch.TorchAdapter.kfac_factors>`; ``λ`` the adapter's L2
penalty per parameter). It is exact for one training row and a one-layer net, and an
approximation otherwise: ``mean(G_i ⊗ A_i) ≠ mean(G_i) ⊗ mean(A_i)``, and the
cross-layer blocks are lost. It always approximates the (positive semi-definite)
Gauss-Newton matrix, whatever the adapter's ``gauss_newton`` says.

**Inversion.** With ``X`` the ``d_out × d_a`` matrix whose row-major vec is a block's
slice, the block equation is ``G X A + X D = B`` with ``D = diag(d)``, ``d`` the
penalty plus damping of the columns of ``[W | b]`` (weight decay is per parameter
tensor, so ``d`` is constant down a column). One matrix ``T`` diagonalises ``A`` and
``D`` together (``Tᵀ A T = diag(α)``, ``Tᵀ D T = diag(δ)``) and ``G = Q diag(γ) Qᵀ``,
so ``X = Q [(Qᵀ B T) ⊘ (γ αᵀ + 1 δᵀ)] Tᵀ``:

* ``d`` constant (the usual case): ``T`` the eigenvectors of ``A``, ``δ = d``;
* ``d > 0`` but not constant (e.g. no decay on the bias, ``damping > 0``):
  ``T = D^{-1/2} V`` with ``V`` the eigenvectors of ``D^{-1/2} A D^{-1/2}``, ``δ = 1``;
* some ``d = 0`` and others not: ``T = A^{-1/2} V`` with ``V`` the eigenvectors of
  ``A^{-1/2} D A^{-1/2}``, ``α = 1`` (``A`` must then be positive definite).

Never the ``(d_out d_a)²`` Kronecker product: an eigen-decomposition of each factor,
``O(d_out³ + d_a³)`` once per layer, and ``O(r (d_out² d_a + d_out d_a²))`` per
``r`` right-hand sides. Eigenvalues ``γ_i α_j + δ_j`` below ``rcond`` times the
block's largest are treated as zero, with a
:class:`~skinfluence.exceptions.SingularHessianWarning`: the Moore-Penrose
pseudo-inverse of the block (in the last case ``T`` is not orthogonal, so the null
directions ``Q e_i ⊗ T e_j`` are also projected out of ``B`` and of the result).
"""

from __future__ import annotations

import warnings

import numpy as np

from ..exceptions import SingularHessianWarning
from ._base import BaseSolver

__all__ = ["KFACSolver"]


def layer_damping(lam: np.ndarray, layer, damping: float, form: str) -> np.ndarray:
    """The L2 penalty plus damping of a layer, one value per input column.

    A Kronecker-factored block can add ``diag(d)`` only when the penalty is the same
    for every row of the weight; otherwise ``ValueError`` names ``form``.
    """
    d_cols = lam[layer.index].reshape(layer.d_out, layer.d_a)
    if np.any(d_cols != d_cols[0]):
        raise ValueError(
            f"layer {layer.module!r}: the L2 penalty differs between rows of its "
            f"weight, which {form} cannot hold; use solver='cg'."
        )
    return d_cols[0] + damping


def warn_singular(kind: str, singular: list[str]) -> None:
    """Warn that the listed layers' blocks were pseudo-inverted (none: no warning)."""
    if singular:
        warnings.warn(
            f"The {kind} blocks of layers " + ", ".join(singular) + " are singular; "
            "their null directions are dropped (a pseudo-inverse). Pass damping > 0 "
            "to regularise instead.",
            SingularHessianWarning,
            stacklevel=3,
        )


def _simultaneous_basis(A: np.ndarray, d: np.ndarray, rcond: float):
    """``T, α, δ`` with ``Tᵀ A T = diag(α)``, ``Tᵀ diag(d) T = diag(δ)``; T orthogonal?"""
    if np.ptp(d) <= 1e-12 * max(float(np.max(np.abs(d))), 1e-300):
        alpha, T = np.linalg.eigh(A)
        return T, alpha, np.full_like(alpha, d[0]), True
    if d.min() > 0:
        w = 1.0 / np.sqrt(d)
        alpha, V = np.linalg.eigh(w[:, None] * A * w[None, :])
        return w[:, None] * V, alpha, np.ones_like(alpha), False
    ev, U = np.linalg.eigh(A)
    if ev.min() <= rcond * max(ev.max(), 1e-300):
        raise ValueError(
            "K-FAC cannot invert a layer whose parameters have different penalties, some "
            "zero, when its input second moment A is singular; pass damping > 0."
        )
    A_isqrt = (U / np.sqrt(ev)) @ U.T
    delta, V = np.linalg.eigh(A_isqrt @ (d[:, None] * A_isqrt))
    return A_isqrt @ V, np.ones_like(delta), delta, False


class KFACSolver(BaseSolver):
    """Inverse of the K-FAC approximation of the Gauss-Newton matrix (torch nets).

    Parameters
    ----------
    damping : float, default=0.0
        Added to the diagonal, on top of the adapter's L2 penalty ``λ``.
    rcond : float, default=1e-10
        An eigenvalue of a block below ``rcond`` times the block's largest counts as
        zero.

    Attributes
    ----------
    factors_ : list of KFACFactors
        The adapter's Kronecker factors, one per ``nn.Linear`` layer.
    blocks_ : list of tuple
        Per layer ``(index, Q, T, inv, null)``: the map into ``θ``, the
        eigenvectors of ``G``, the basis ``T`` of the module docstring,
        ``1 / (γ αᵀ + 1 δᵀ)`` (zero where singular, shape ``(d_out, d_a)``) and an
        orthonormal basis of the block's null space when ``T`` is not orthogonal
        (else None).

    Notes
    -----
    See the module docstring for the formula, source and cost.
    """

    needs = ("kfac",)
    hint = "K-FAC needs a torch model; linear models have the exact solver: solver='exact'."

    def __init__(self, damping: float = 0.0, rcond: float = 1e-10):
        super().__init__(damping)
        self.rcond = rcond

    def fit(self, adapter) -> KFACSolver:
        """Collect the Kronecker factors of ``adapter`` and eigen-decompose them.

        Parameters
        ----------
        adapter : TorchAdapter
            Fitted torch adapter whose selected parameters all sit in ``nn.Linear``
            layers.

        Returns
        -------
        self : KFACSolver
            The fitted solver.
        """
        super().fit(adapter)
        self.factors_ = adapter.kfac_factors()
        lam = np.asarray(adapter.lam, dtype=np.float64)
        self.blocks_ = []
        singular = []
        for F in self.factors_:
            L = F.layer
            d = layer_damping(lam, L, self.damping, "K-FAC's Kronecker form")
            T, alpha, delta, orthogonal = _simultaneous_basis(0.5 * (F.A + F.A.T), d, self.rcond)
            gamma, Q = np.linalg.eigh(0.5 * (F.G + F.G.T))
            eig = gamma[:, None] * alpha[None, :] + delta[None, :]
            keep = eig > self.rcond * max(float(np.abs(eig).max()), 1e-300)
            null = None
            if not keep.all():
                singular.append(f"{L.module or '<module>'} ({(~keep).sum()} of {eig.size})")
                if not orthogonal:  # project the null space out: the Moore-Penrose inverse
                    i, j = np.nonzero(~keep)
                    null = np.linalg.qr(
                        (Q[:, i][:, None, :] * T[:, j][None, :, :]).reshape(-1, len(i))
                    )[0]
            inv = np.where(keep, 1.0 / np.where(keep, eig, 1.0), 0.0)
            self.blocks_.append((L.index, Q, T, inv, null))
        warn_singular("K-FAC", singular)
        return self

    def solve(self, B: np.ndarray) -> np.ndarray:
        """Return ``(K-FAC + diag(λ) + damping·I)⁻¹ B``, block by block.

        Parameters
        ----------
        B : ndarray of shape (m,) or (m, r)
            Right-hand sides in the adapter's parameter layout.

        Returns
        -------
        ndarray of the shape of ``B``
        """
        B = np.asarray(B, dtype=np.float64)
        B2 = B.reshape(B.shape[0], -1)
        r = B2.shape[1]
        out = np.empty_like(B2)
        for index, Q, T, inv, null in self.blocks_:
            Bb = B2[index]
            if null is not None:
                Bb = Bb - null @ (null.T @ Bb)
            Xb = Bb.T.reshape(r, Q.shape[0], T.shape[0])  # (r, d_out, d_a)
            Y = (Q.T @ Xb @ T) * inv
            Xb = (Q @ Y @ T.T).reshape(r, -1).T
            if null is not None:
                Xb -= null @ (null.T @ Xb)
            out[index] = Xb
        return out.reshape(B.shape)

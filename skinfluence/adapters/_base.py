"""The adapter interface: what the influence measures need from a fitted model.

An adapter turns a fitted model and its training data into arrays. Measures and
solvers see only this interface, never the estimator. Notation (seed 000, §2):

* ``n`` rows, ``p`` input features, ``m`` parameters ``θ``, ``K`` classes
  (``n_outputs``; 1 for regression).
* ``L(y, x; θ)`` the per-row training loss the model minimised, without the penalty;
  the fitted model minimises ``R(θ) = mean_i L_i(θ) + penalty(θ)``.
* ``H = ∂²R(θ̂)``, the mean regularised training Hessian (``m × m``).
* ``M = ∂x∂θ L`` (``m × p``), never built: only products ``u·M = ∂x(u·∂θL)``.

All arrays are float64 numpy arrays. Rows are handled in chunks by the caller, so
every method must accept any subset of rows.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

__all__ = ["BaseAdapter"]


class BaseAdapter(ABC):
    """Derivatives of a fitted model, as numpy arrays.

    Attributes
    ----------
    n_params : int
        Number of parameters ``m`` that influence is taken over.
    n_features : int
        Number of input features ``p`` (the dimension perturbed by FI).
    n_outputs : int
        ``K``: number of classes for classifiers, 1 for regressors.
    is_classifier : bool
        Whether the model is a probabilistic classifier.
    n_train : int
        Number of training rows ``n`` the model was fitted on.
    """

    n_params: int
    n_features: int
    n_outputs: int
    is_classifier: bool
    n_train: int

    # -- curvature -------------------------------------------------------------------
    def hessian(self) -> np.ndarray:
        """Return the mean regularised training Hessian ``H`` (``m × m``).

        Adapters that cannot afford a dense Hessian raise ``NotImplementedError``;
        iterative solvers then use :meth:`hvp`.
        """
        raise NotImplementedError(f"{type(self).__name__} has no dense Hessian")

    @abstractmethod
    def hvp(self, V: np.ndarray) -> np.ndarray:
        """Return ``H @ V`` for ``V`` of shape ``(m,)`` or ``(m, r)``."""

    def batch_hvp(self, V: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Minibatch Hessian-vector product: ``mean_{i ∈ rows} ∂²θ L_i V + λ ⊙ V``.

        An unbiased estimate of ``H @ V`` when ``rows`` are drawn uniformly from the
        training rows (stochastic solvers such as LiSSA use it).

        Parameters
        ----------
        V : ndarray of shape (m,) or (m, r)
        rows : ndarray of int
            Positions of training rows.
        """
        raise NotImplementedError(f"{type(self).__name__} has no minibatch Hessian-vector product")

    def param_groups(self) -> list[np.ndarray]:
        """Positions in ``θ`` of each parameter group ("layer"), for per-layer rules.

        Returns
        -------
        list of ndarray of int
            Disjoint groups covering ``range(n_params)``; one group by default.
        """
        return [np.arange(self.n_params)]

    def output_contributions(self, X) -> np.ndarray:
        """Mean size ``mean_i |θ_j u_ij|`` of each parameter's term in its layer output.

        ``u_ij`` is the input that parameter ``j`` multiplies on row ``i`` (1 for a
        bias), so ``θ_j u_ij`` is its share of the layer's pre-activation (seed 004's
        "outputs" parameter selection).

        Parameters
        ----------
        X : array-like of shape (n, p)
            Rows.

        Returns
        -------
        ndarray of shape (m,)
        """
        raise NotImplementedError(f"{type(self).__name__} has no per-parameter outputs")

    # -- first order -----------------------------------------------------------------
    @abstractmethod
    def loss_grad(self, X, y: np.ndarray) -> np.ndarray:
        """Per-row loss gradients ``∂θ L(y_i, x_i; θ̂)``, shape ``(n, m)``.

        ``y`` is encoded: class indices ``0..K-1`` for classifiers, floats for
        regressors (see :meth:`encode_y`).
        """

    @abstractmethod
    def encode_y(self, y) -> np.ndarray:
        """Map user labels to the encoding the other methods take."""

    def outputs(self, X) -> np.ndarray:
        """Return the model's raw outputs ``f`` (logits or the mean), shape ``(n, K')``.

        Optional (the robustness objective uses it); adapters without it raise
        ``NotImplementedError``.
        """
        raise NotImplementedError(f"{type(self).__name__} has no outputs()")

    def input_grad(self, X, y: np.ndarray) -> np.ndarray:
        """Return the per-row input gradients ``∂x L(y_i, x_i; θ̂)``, shape ``(n, p)``.

        Optional (the robustness objective uses it); adapters without it raise
        ``NotImplementedError``.
        """
        raise NotImplementedError(f"{type(self).__name__} has no input_grad()")

    # -- mixed derivative ---------------------------------------------------------------
    @abstractmethod
    def mixed_product(self, X, y: np.ndarray, U: np.ndarray) -> np.ndarray:
        """Products of parameter directions with the mixed derivative, per row.

        Returns ``∂x (U[i, r] · ∂θ L(y_i, x; θ̂))`` at ``x = x_i`` with ``U`` held
        fixed, i.e. ``U[i, r] @ M_i``.

        Parameters
        ----------
        X : array of shape (n, p)
        y : array of shape (n,), encoded
        U : array of shape (r, m) (the same directions for every row) or
            (n, r, m) (directions per row)

        Returns
        -------
        array of shape (n, r, p)
        """

    @abstractmethod
    def mixed_jvp(self, X, y: np.ndarray, C: np.ndarray) -> np.ndarray:
        """The other product with the mixed derivative: ``M_i @ C[i, r]``, per row.

        Returns ``∂θ (∂x L(y_i, x; θ̂) · C[i, r])`` at ``x = x_i``: the parameter
        gradient of the loss's directional derivative along ``C[i, r]`` in input space.

        Parameters
        ----------
        X : array of shape (n, p)
        y : array of shape (n,), encoded
        C : array of shape (n, r, p), input-space directions per row

        Returns
        -------
        array of shape (n, r, m)
        """

    # -- the Fisher metric of the perturbation manifold ------------------------------------
    @abstractmethod
    def metric_factors(self, X) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Factors of the metric tensor ``G_z`` of seed 000 §2, through the outputs.

        ``G_z = Σ_r w_r² a_rᵀ a_r`` with ``a_r = ∂θ l_r · ∂ωθ̂ + ∂x l_r``. For a
        classifier ``r`` runs over the ``K`` classes, ``w_r = √P(r|x)`` and
        ``l_r = log P(r|x)``. For a regressor with Gaussian likelihood
        ``N(μ(x; θ), σ²)`` there is one factor, ``w = 1/σ`` and ``l = μ``.

        Every ``l_r`` is a function of the model's ``K'`` outputs ``f`` (logits,
        or the mean), so ``∂ l_r = Σ_k D[r, k] ∂f_k``. Returning the output
        Jacobians instead of ``∂ l_r`` lets the measures solve ``K'`` (not ``K``)
        linear systems per row: one for a binary classifier.

        Returns
        -------
        w : array of shape (n, R)
        D : array of shape (n, R, K'), ``∂ l_r / ∂ f_k``
        J_theta : array of shape (n, K', m), ``∂θ f_k``
        J_x : array of shape (n, K', p), ``∂x f_k``
        """

    def chunk_size(self, width: int = 1, target_mb: float = 64.0) -> int:
        """Rows per chunk so that a ``(rows, width, max(m, p))`` float64 block fits.

        Parameters
        ----------
        width : int, default=1
            Vectors of length ``max(m, p)`` held per row.
        target_mb : float, default=64.0
            Memory allowed for one block, in MiB.

        Returns
        -------
        int
            Number of rows, between 1 and 65,536.
        """
        per_row = 8.0 * max(width, 1) * max(self.n_params, self.n_features, 1)
        return int(max(1, min(1 << 16, target_mb * 2**20 // per_row)))

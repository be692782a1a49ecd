"""Arnoldi: inverse on the top eigenspace of the Hessian (Schioppa et al. 2022).

Schioppa, Zablotskaia, Vilar & Sokolov (2022), "Scaling up influence functions"
(AAAI), cited by seed ``004_5a093b8d3e7dd941.txt`` (§2.1, data scoring). The Arnoldi
iteration builds an orthonormal basis ``Q`` of the Krylov space
``span{q, Hq, …, H^{n-1} q}`` (random ``q``) from ``n = n_iter`` Hessian-vector
products, with full re-orthogonalisation (Gram-Schmidt twice) so that the basis stays
orthonormal in floating point. ``T = Qᵀ H Q`` (upper Hessenberg, tridiagonal here
because ``H`` is symmetric; it is symmetrised) is diagonalised, ``T = Y diag(θ) Yᵀ``,
and the ``k = n_components`` Ritz pairs of largest ``|θ|`` are kept:
``U = Q Y[:, top]``. Then ::

    (H + damping·I)⁻¹ b  ≈  U diag(1 / (θ + damping)) Uᵀ b

**Off the subspace** the inverse is taken as zero, as in Schioppa et al.: the
components of ``b`` orthogonal to the top-``k`` eigenvectors are dropped. That is the
inverse of the rank-``k`` truncation of ``H`` on its top eigenspace (a pseudo-inverse
when ``k < m``), not an approximation of the full inverse: directions of small
curvature, which the full inverse amplifies most, are the ones discarded. It is exact
when ``k = n_iter = m`` (then the Krylov space is everything) and equal to the
truncated spectral inverse once the top ``k`` Ritz pairs have converged. ``damping``
shifts every kept eigenvalue; it does not fill in the dropped complement.

If the Krylov space becomes invariant before ``n_iter`` steps (``‖w‖`` below
``1e-12 ‖H‖``, which happens when ``H`` has repeated eigenvalues, e.g. the null space
of a Gauss-Newton matrix), the iteration goes on from a fresh random direction
orthogonal to the basis, so ``n_iter = m`` always spans everything.

Cost: ``n_iter`` single-vector HVPs and ``O(m · n_iter²)`` for the orthogonalisation
in :meth:`ArnoldiSolver.fit` (``m · n_iter`` floats stored while fitting, ``m · k``
kept); each solve is ``O(m k r)`` for ``r`` right-hand sides, with no further HVP.
"""

from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
from sklearn.utils import check_random_state

from ..exceptions import SingularHessianWarning
from ._base import BaseSolver

__all__ = ["ArnoldiSolver"]


class ArnoldiSolver(BaseSolver):
    """Inverse of the Hessian restricted to its top-``k`` eigenspace, by Arnoldi.

    Parameters
    ----------
    damping : float, default=0.0
        Added to every kept eigenvalue.
    n_components : int, default=20
        Eigenpairs kept (largest ``|eigenvalue|``); capped at ``m``.
    n_iter : int or None, default=None
        Krylov dimension (HVPs); ``None`` means ``min(m, 2 · n_components + 20)``.
        Must be at least ``n_components``.
    rcond : float, default=1e-10
        A kept eigenvalue ``θ + damping`` with ``|θ + damping|`` below ``rcond`` times
        the largest is dropped too (with a :class:`SingularHessianWarning`).
    random_state : int, RandomState instance or None, default=None
        Seeds the start vector.

    Attributes
    ----------
    eigenvalues_ : ndarray of shape (k,)
        Kept Ritz values of ``H`` (without ``damping``), by decreasing magnitude.
    eigenvectors_ : ndarray of shape (m, k)
        The matching orthonormal Ritz vectors.
    n_iter_ : int
        HVPs used (the Krylov dimension).

    Notes
    -----
    See the module docstring for the formula, what happens off the subspace, and
    the cost.
    """

    def __init__(
        self,
        damping: float = 0.0,
        n_components: int = 20,
        n_iter: int | None = None,
        rcond: float = 1e-10,
        random_state=None,
    ):
        super().__init__(damping)
        self.n_components = n_components
        self.n_iter = n_iter
        self.rcond = rcond
        self.random_state = random_state

    def fit(self, adapter) -> ArnoldiSolver:
        """Run the Arnoldi iteration on ``adapter``'s Hessian and keep the top pairs.

        Parameters
        ----------
        adapter : BaseAdapter
            Fitted adapter giving ``hvp``.

        Returns
        -------
        self : ArnoldiSolver
            The fitted solver.
        """
        super().fit(adapter)
        if not isinstance(self.n_components, Integral) or self.n_components < 1:
            raise ValueError(f"n_components must be an int >= 1, got {self.n_components!r}.")
        m = adapter.n_params
        k = min(self.n_components, m)
        n_iter = min(m, 2 * k + 20) if self.n_iter is None else self.n_iter
        if not isinstance(n_iter, Integral) or n_iter < k:
            raise ValueError(
                f"n_iter must be None or an int >= n_components ({k}), got {self.n_iter!r}."
            )
        n_iter = min(n_iter, m)
        rng = check_random_state(self.random_state)
        Q = np.zeros((m, n_iter + 1))
        Hs = np.zeros((n_iter + 1, n_iter))
        q = rng.normal(size=m)
        Q[:, 0] = q / np.linalg.norm(q)
        size = 0.0
        steps = n_iter
        for j in range(n_iter):
            w = adapter.hvp(Q[:, j])
            for _ in range(2):  # Gram-Schmidt twice: orthogonal to working precision
                c = Q[:, : j + 1].T @ w
                w = w - Q[:, : j + 1] @ c
                Hs[: j + 1, j] += c
            beta = float(np.linalg.norm(w))
            size = max(size, float(np.abs(Hs[: j + 1, j]).max()), beta)
            if beta > 1e-12 * max(size, 1e-300):
                Hs[j + 1, j] = beta
                Q[:, j + 1] = w / beta
                continue
            # invariant subspace (e.g. repeated eigenvalues): go on from a fresh random
            # direction orthogonal to the basis, with a zero coupling in T
            if j + 1 == m:
                steps = j + 1
                break
            w = rng.normal(size=m)
            for _ in range(2):
                w -= Q[:, : j + 1] @ (Q[:, : j + 1].T @ w)
            Q[:, j + 1] = w / np.linalg.norm(w)
        self.n_iter_ = steps
        T = Hs[:steps, :steps]
        theta, Y = np.linalg.eigh(0.5 * (T + T.T))
        top = np.argsort(-np.abs(theta), kind="stable")[: min(k, steps)]
        self.eigenvalues_ = theta[top]
        self.eigenvectors_ = Q[:, :steps] @ Y[:, top]
        shifted = self.eigenvalues_ + self.damping
        keep = np.abs(shifted) > self.rcond * max(float(np.abs(shifted).max()), 1e-300)
        if not keep.all():
            warnings.warn(
                f"{(~keep).sum()} of the {keep.size} kept eigenvalues of H + damping·I are "
                "(numerically) zero; they are dropped. Pass damping > 0 to regularise.",
                SingularHessianWarning,
                stacklevel=2,
            )
        self.inv_ = np.where(keep, 1.0 / np.where(keep, shifted, 1.0), 0.0)
        return self

    def solve(self, B: np.ndarray) -> np.ndarray:
        """Return ``U diag(1/(θ + damping)) Uᵀ B`` (zero off the kept eigenspace).

        Parameters
        ----------
        B : ndarray of shape (m,) or (m, r)
            Right-hand sides.

        Returns
        -------
        ndarray of the shape of ``B``
        """
        B = np.asarray(B, dtype=np.float64)
        B2 = B.reshape(B.shape[0], -1)
        U = self.eigenvectors_
        return (U @ (self.inv_[:, None] * (U.T @ B2))).reshape(B.shape)

"""LiSSA and the modified LiSSA of GIF: Neumann-series inverse-Hessian-vector products.

**LiSSA** (Agarwal, Bullins & Hazan 2017, "Second-order stochastic optimization for
machine learning in linear time"; used for influence by Koh & Liang 2017, and named
as a baseline in seeds ``001_88d557979f1cfd41.txt`` and ``004_5a093b8d3e7dd941.txt``
eq. 4). For ``A = H + damping·I`` and a scale ``s`` the recursion ::

    h_0 = b,   h_k = b + h_{k-1} - (A_k h_{k-1}) / s,   x = h_K / s

has the fixed point ``x = A⁻¹ b`` whenever every eigenvalue of ``A/s`` lies in
``(0, 2)``; ``A_k`` is the Hessian on a fresh uniform minibatch of ``batch_size``
training rows (plus the penalty and ``damping``) or, with ``batch_size=None``, the
full Hessian. The increment ``h_k - h_{k-1}`` equals the residual
``b - A x_{k-1}``, so with full HVPs the recursion stops when the relative residual
falls below ``tol`` (as conjugate gradient does); with minibatches it runs ``max_iter``
steps (its residual is noisy) and ``n_repeats`` independent runs are averaged.

Koh & Liang write the recursion as ``h_k = b + (1 - d) h_{k-1} - H h_{k-1} / s``,
whose fixed point is ``(H + d·s·I)⁻¹ b``: their ``damping=d`` is ``d·s`` here, so that
``damping`` means the same thing for every solver of this package.

*Divergence.* When every ``A_k/s`` has its eigenvalues in ``[0, 2]`` each step is a
contraction, so ``‖h_k‖ ≤ (k + 1) ‖b‖`` and (full HVPs) ``‖b - A x_k‖ ≤ ‖b‖``. Either
bound failing proves that ``scale`` is too small (or that ``H + damping·I`` is not
positive definite); :class:`LiSSASolver` then raises :class:`LiSSADivergenceError`
with the Rayleigh quotient of the growing direction and the ``scale`` it needs,
instead of returning garbage. ``scale="auto"`` takes ``s`` from a few power iterations
on the full Hessian (``s = λ̂_max``; twice that with minibatches, whose Hessians have
larger extreme eigenvalues).

Cost: ``max_iter · n_repeats`` (mini)batch HVPs for all right-hand sides at once;
with full HVPs about ``κ · ln(1/tol)`` iterations for a condition number ``κ`` of
``A`` — slower than CG's ``√κ``, which is why CG is the better deterministic solver.

**Modified LiSSA** (seed ``004_5a093b8d3e7dd941.txt`` §3.1, eq. 8 and Alg. 1). For a
selection ``J`` of ``k`` parameters, ``H_J = H[:, J]`` (``m × k``), GIF needs the
Moore-Penrose solve ``H_J⁺ b = (H_Jᵀ H_J)⁻¹ H_Jᵀ b`` (eq. 6). Eq. 8 is the Neumann
series of the normal equations, ``I_k = I_0 + (I - H_Jᵀ H_J) I_{k-1}``,
``I_0 = H_Jᵀ b``, each step two HVPs (eq. 9). ``H_Jᵀ H_J`` is positive semi-definite
and ``I_0`` lies in its range, so after dividing the loss by a large enough ``M``
(``H → H/M``, ``b → b/M``; the GIF is scale-invariant, Prop. 3.1) the series always
converges, even for an indefinite ``H``. The rescaling rule of Alg. 1: run the
series; when it diverges, divide the loss by ``μ`` (``mu``) and restart from
scratch. Here the start is ``M = ‖H‖₂`` estimated by power iteration (``scale=None``)
and divergence is detected by the contraction bounds above, so a restart happens
only when the series provably diverges. With ``selection=None`` (``J`` = every
parameter) it solves ``H² x = H b``, i.e. ``x = H⁻¹ b`` for any invertible ``H``.

:meth:`ModifiedLiSSASolver.solve` returns the *adjoint* ``(H_J⁺)ᵀ b_J`` (an
``m``-vector; ``H⁻¹ b`` when ``J`` is everything), which is what influence scores
need: ``ḡ_Jᵀ H_J⁺ g_i = ((H_J⁺)ᵀ ḡ_J)ᵀ g_i`` takes one series for the validation
gradient instead of one per training row. Its series runs in ``θ``-space on
``H_J H_Jᵀ`` (same non-zero spectrum as ``H_Jᵀ H_J``, same convergence guarantee).
:meth:`ModifiedLiSSASolver.solve_selected` returns eq. 6 itself, ``H_J⁺ b``.
Cost: ``2`` HVPs per iteration, ``O(κ(H_J)² ln(1/tol))`` iterations: the condition
number is squared, the price of the guarantee.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import clone
from sklearn.utils import check_random_state

from ..adapters import require
from ..exceptions import ConvergenceWarning
from ._base import BaseSolver

__all__ = ["LiSSADivergenceError", "LiSSASolver", "ModifiedLiSSASolver"]


class LiSSADivergenceError(np.linalg.LinAlgError, ArithmeticError):
    """The LiSSA recursion diverged: its scale is too small for the Hessian."""


def _power_norm(apply, m: int, rng, n_iter: int = 30) -> float:
    """Estimate ``‖A‖₂`` of a symmetric operator by power iteration."""
    v = rng.normal(size=m)
    v /= np.linalg.norm(v)
    est = 0.0
    for _ in range(n_iter):
        w = apply(v)
        norm = float(np.linalg.norm(w))
        if norm == 0.0 or not np.isfinite(norm):
            return norm
        if abs(norm - est) <= 1e-3 * norm:
            est = norm
            break
        est = norm
        v = w / norm
    return est


def _neumann(apply, C: np.ndarray, step: float, tol: float, max_iter: int, stochastic: bool):
    """Run ``h_k = C + h_{k-1} - step·A_k h_{k-1}`` column-wise; return ``step·h``.

    ``apply(V, k)`` returns ``A_k V``. Returns ``(x, n_iter, diverged, n_open)``:
    ``diverged`` is None or ``(column, iteration, direction)`` when a contraction bound
    failed; ``n_open`` counts columns still above ``tol`` (full HVPs).
    """
    H = C.copy()
    cnorm = np.maximum(np.linalg.norm(C, axis=0), 1e-300)
    active = np.linalg.norm(C, axis=0) > 0
    it = 0
    for it in range(1, max_iter + 1):
        cols = np.flatnonzero(active)
        if cols.size == 0:
            break
        Hc = H[:, cols]
        R = C[:, cols] - step * apply(Hc, it)  # the increment: the residual
        H[:, cols] = Hc + R
        rnorm = np.linalg.norm(R, axis=0)
        hnorm = np.linalg.norm(H[:, cols], axis=0)
        bad = ~np.isfinite(hnorm) | (hnorm > (it + 1) * cnorm[cols] * (1 + 1e-8))
        if not stochastic:
            bad |= rnorm > cnorm[cols] * (1 + 1e-8)
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            return None, it, (int(cols[j]), it, R[:, j]), 0
        if not stochastic:
            active[cols] = rnorm > tol * cnorm[cols]
    return step * H, it, None, 0 if stochastic else int(active.sum())


def _warn_open(n_open: int, r: int, max_iter: int, advice: str) -> None:
    if n_open:
        warnings.warn(
            f"LiSSA did not reach tol for {n_open} of {r} right-hand sides in {max_iter} "
            f"iterations; {advice}",
            ConvergenceWarning,
            stacklevel=3,
        )


def _check_common(solver, name_max_iter="max_iter") -> None:
    if not isinstance(solver.tol, Real) or solver.tol <= 0:
        raise ValueError(f"tol must be a float > 0, got {solver.tol!r}.")
    mi = getattr(solver, name_max_iter)
    if not isinstance(mi, Integral) or mi < 1:
        raise ValueError(f"{name_max_iter} must be an int >= 1, got {mi!r}.")


class LiSSASolver(BaseSolver):
    """LiSSA: the stochastic Neumann-series inverse of ``H + damping·I``.

    Parameters
    ----------
    damping : float, default=0.0
        Added to the diagonal of the Hessian (the solve is ``(H + damping·I)⁻¹ b``;
        see the module docstring for the Koh & Liang convention).
    scale : float or "auto", default="auto"
        The scale ``s``: every eigenvalue of ``(H + damping·I)/s`` must lie in
        ``(0, 2)``. ``"auto"`` estimates ``λ_max`` by power iteration on the full
        Hessian and takes ``s = λ̂_max`` (``2 λ̂_max`` with minibatches).
    max_iter : int, default=10000
        Recursion depth (Koh & Liang's ``recursion_depth``): the most iterations with
        full HVPs, the exact number with minibatches.
    tol : float, default=1e-10
        Full HVPs only: stop a column when ``‖b - (H + damping·I) x‖ ≤ tol ‖b‖``.
    batch_size : int or None, default=None
        Rows per minibatch HVP (drawn uniformly with replacement across steps,
        without within a batch); ``None`` uses the full Hessian (deterministic).
    n_repeats : int, default=1
        Independent recursions averaged (minibatches only; with full HVPs every
        repeat is the same, so one is run).
    random_state : int, RandomState instance or None, default=None
        Seeds the minibatches and the power iteration.

    Attributes
    ----------
    scale_ : float
        The scale used.
    n_iter_ : int
        Iterations of the last :meth:`solve` (per repeat).

    Raises
    ------
    LiSSADivergenceError
        From :meth:`solve`, when the recursion provably diverges.

    Notes
    -----
    See the module docstring for the formula, sources, stopping rule, divergence
    check and cost.
    """

    def __init__(
        self,
        damping: float = 0.0,
        scale="auto",
        max_iter: int = 10000,
        tol: float = 1e-10,
        batch_size: int | None = None,
        n_repeats: int = 1,
        random_state=None,
    ):
        super().__init__(damping)
        self.scale = scale
        self.max_iter = max_iter
        self.tol = tol
        self.batch_size = batch_size
        self.n_repeats = n_repeats
        self.random_state = random_state

    def fit(self, adapter) -> LiSSASolver:
        """Validate the settings and fix the scale for ``adapter``'s Hessian.

        Parameters
        ----------
        adapter : BaseAdapter
            Fitted adapter giving ``hvp`` (and ``batch_hvp`` with minibatches).

        Returns
        -------
        self : LiSSASolver
            The fitted solver.
        """
        super().fit(adapter)
        _check_common(self)
        if self.batch_size is not None and (
            not isinstance(self.batch_size, Integral) or self.batch_size < 1
        ):
            raise ValueError(f"batch_size must be None or an int >= 1, got {self.batch_size!r}.")
        if not self._full:
            require(adapter, "batch_hvp", what=f"LiSSA with batch_size={self.batch_size}")
        if not isinstance(self.n_repeats, Integral) or self.n_repeats < 1:
            raise ValueError(f"n_repeats must be an int >= 1, got {self.n_repeats!r}.")
        self._rng = check_random_state(self.random_state)
        if self.scale == "auto":
            lam = _power_norm(
                lambda v: adapter.hvp(v) + self.damping * v, adapter.n_params, self._rng
            )
            factor = 1.0 if self._full else 2.0
            self.scale_ = max(factor * lam, 1e-300)
        elif isinstance(self.scale, Real) and self.scale > 0:
            self.scale_ = float(self.scale)
        else:
            raise ValueError(f"scale must be 'auto' or a float > 0, got {self.scale!r}.")
        return self

    @property
    def _full(self) -> bool:
        return self.batch_size is None or self.batch_size >= self.adapter_.n_train

    def _apply(self, V, it):
        if self._full:
            return self.adapter_.hvp(V) + self.damping * V
        rows = self._rng.choice(self.adapter_.n_train, self.batch_size, replace=False)
        return self.adapter_.batch_hvp(V, rows) + self.damping * V

    def solve(self, B: np.ndarray) -> np.ndarray:
        """Return the LiSSA estimate of ``(H + damping·I)⁻¹ B``.

        Parameters
        ----------
        B : ndarray of shape (m,) or (m, r)
            Right-hand sides, all recursed together (one batched HVP per step).

        Returns
        -------
        ndarray of the shape of ``B``
        """
        B = np.asarray(B, dtype=np.float64)
        B2 = B.reshape(B.shape[0], -1)
        repeats = 1 if self._full else self.n_repeats
        total = np.zeros_like(B2)
        for _ in range(repeats):
            X, n_iter, diverged, n_open = _neumann(
                self._apply, B2, 1.0 / self.scale_, self.tol, self.max_iter, not self._full
            )
            self.n_iter_ = n_iter
            if diverged is not None:
                col, it, direction = diverged
                self._raise_divergence(col, it, direction)
            _warn_open(
                n_open, B2.shape[1], self.max_iter, "raise max_iter, loosen tol or add damping."
            )
            total += X
        return (total / repeats).reshape(B.shape)

    def _raise_divergence(self, col, it, direction):
        d = direction / max(np.linalg.norm(direction), 1e-300)
        rq = float(d @ (self.adapter_.hvp(d) + self.damping * d))
        top = _power_norm(
            lambda v: self.adapter_.hvp(v) + self.damping * v, d.size, check_random_state(0)
        )
        if np.isfinite(rq) and rq <= 0:
            cause = (
                f"the growing direction has curvature {rq:.3g} ≤ 0: H + damping·I is not "
                "positive definite (a non-convex net away from a minimum). Pass "
                f"damping > {-rq:.3g}, or gauss_newton=True (torch models)"
            )
        else:
            cause = (
                f"scale={self.scale_:.4g} is too small: every eigenvalue of H + damping·I "
                f"must be below 2·scale, and the largest is about {top:.4g} (power "
                f"iteration; the growing direction has curvature {rq:.4g}). Raise scale "
                f"above {top / 2:.4g}, e.g. scale={top:.3g} (or scale='auto')"
            )
        where = "minibatch " if not self._full else ""
        raise LiSSADivergenceError(
            f"LiSSA diverged at iteration {it} (right-hand side {col}) with {where}"
            f"Hessian-vector products: {cause}."
        )


class ModifiedLiSSASolver(BaseSolver):
    """The modified LiSSA of GIF (seed 004 eq. 8): converges for any Hessian.

    Parameters
    ----------
    damping : float, default=0.0
        Added to the diagonal of the Hessian before anything else.
    selection : array-like of int or None, default=None
        The selected parameters ``J`` (positions in ``θ``); ``None`` selects them all.
    scale : float or None, default=None
        Initial loss divisor ``M`` (the series uses ``H/M``); ``None`` estimates
        ``‖H‖₂`` by power iteration.
    mu : float, default=2.0
        Factor the loss is divided by again each time the series diverges (Alg. 1,
        line 7); must be > 1.
    max_restarts : int, default=20
        Most restarts before giving up with :class:`LiSSADivergenceError`.
    max_iter : int, default=20000
        Most iterations per run.
    tol : float, default=1e-10
        Stop a column when the relative residual of its normal equations falls below
        ``tol``.
    random_state : int, RandomState instance or None, default=None
        Seeds the power iteration.

    Attributes
    ----------
    selection_ : ndarray of int
        ``J``, sorted.
    scale_ : float
        The divisor ``M`` that converged in the last solve.
    n_restarts_ : int
        Restarts in the last solve.
    n_iter_ : int
        Iterations of the last (converged) run.

    Notes
    -----
    See the module docstring for the formula, the rescaling rule and the cost.
    """

    def __init__(
        self,
        damping: float = 0.0,
        selection=None,
        scale: float | None = None,
        mu: float = 2.0,
        max_restarts: int = 20,
        max_iter: int = 20000,
        tol: float = 1e-10,
        random_state=None,
    ):
        super().__init__(damping)
        self.selection = selection
        self.scale = scale
        self.mu = mu
        self.max_restarts = max_restarts
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def fit(self, adapter) -> ModifiedLiSSASolver:
        """Validate the settings and the selection for ``adapter``.

        Parameters
        ----------
        adapter : BaseAdapter
            Fitted adapter giving ``hvp``.

        Returns
        -------
        self : ModifiedLiSSASolver
            The fitted solver.
        """
        super().fit(adapter)
        _check_common(self)
        m = adapter.n_params
        if self.selection is None:
            J = np.arange(m)
        else:
            J = np.unique(np.asarray(self.selection).ravel())
            if J.size == 0 or not np.issubdtype(J.dtype, np.integer):
                raise ValueError(
                    "selection must be None or a non-empty array of parameter positions "
                    f"(ints), got {self.selection!r}."
                )
            if J[0] < 0 or J[-1] >= m:
                raise ValueError(f"selection holds positions outside [0, {m}): {J[[0, -1]]}.")
        self.selection_ = J
        if not isinstance(self.mu, Real) or self.mu <= 1:
            raise ValueError(f"mu must be a float > 1, got {self.mu!r}.")
        if not isinstance(self.max_restarts, Integral) or self.max_restarts < 0:
            raise ValueError(f"max_restarts must be an int >= 0, got {self.max_restarts!r}.")
        if self.scale is None:
            rng = check_random_state(self.random_state)
            self._scale0 = max(_power_norm(self._hvp, m, rng), 1e-300)
        elif isinstance(self.scale, Real) and self.scale > 0:
            self._scale0 = float(self.scale)
        else:
            raise ValueError(f"scale must be None or a float > 0, got {self.scale!r}.")
        return self

    def _hvp(self, V):
        return self.adapter_.hvp(V) + self.damping * V

    def _embed(self, Y):
        out = np.zeros((self.adapter_.n_params, Y.shape[1]))
        out[self.selection_] = Y
        return out

    def _run(self, apply, C):
        M = self._scale0
        for restart in range(self.max_restarts + 1):
            X, n_iter, diverged, n_open = _neumann(
                apply, C, 1.0 / M**2, self.tol, self.max_iter, False
            )
            if diverged is None:
                self.scale_, self.n_restarts_, self.n_iter_ = M, restart, n_iter
                _warn_open(
                    n_open,
                    C.shape[1],
                    self.max_iter,
                    "raise max_iter or loosen tol (the modified series converges as "
                    "1 - 1/κ(H_J)²: select fewer, better-conditioned parameters or add "
                    "damping).",
                )
                return X
            M *= self.mu
        raise LiSSADivergenceError(
            f"the modified LiSSA series still diverged after dividing the loss by "
            f"{M / self.mu:.3g} ({self.max_restarts} restarts); raise max_restarts or "
            "pass a larger scale."
        )

    def solve(self, B: np.ndarray) -> np.ndarray:
        """Return ``(H_J⁺)ᵀ B[J]`` (``(H + damping·I)⁻¹ B`` when ``J`` is everything).

        Parameters
        ----------
        B : ndarray of shape (m,) or (m, r)
            Right-hand sides in ``θ``'s layout; rows outside ``J`` are ignored.

        Returns
        -------
        ndarray of the shape of ``B``
        """
        B = np.asarray(B, dtype=np.float64)
        B2 = B.reshape(B.shape[0], -1)
        J = self.selection_

        def apply(V, it):  # (H_J H_Jᵀ) V
            return self._hvp(self._embed(self._hvp(V)[J]))

        X = self._run(apply, self._hvp(self._embed(B2[J])))
        return X.reshape(B.shape)

    def solve_selected(self, B: np.ndarray) -> np.ndarray:
        """Return seed 004 eq. 6: ``H_J⁺ B = (H_Jᵀ H_J)⁻¹ H_Jᵀ B``, shape ``(k, ...)``.

        Parameters
        ----------
        B : ndarray of shape (m,) or (m, r)
            Right-hand sides (e.g. sums of training-loss gradients).

        Returns
        -------
        ndarray of shape (k,) or (k, r)
            The change of the selected parameters ``θ_J``, in :attr:`selection_` order.
        """
        B = np.asarray(B, dtype=np.float64)
        B2 = B.reshape(B.shape[0], -1)
        J = self.selection_

        def apply(V, it):  # (H_Jᵀ H_J) V
            return self._hvp(self._hvp(self._embed(V)))[J]

        X = self._run(apply, self._hvp(B2)[J])
        return X if B.ndim == 2 else X[:, 0]

    def solve_restricted(self, adapter, J: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``(H_J⁺)ᵀ b[J]`` by the modified series, on a copy with ``selection=J``.

        Parameters
        ----------
        adapter : BaseAdapter
        J : ndarray of int
        b : ndarray of shape (m,)

        Returns
        -------
        ndarray of shape (m,)
        """
        selection = J if J.size < adapter.n_params else None
        return clone(self).set_params(selection=selection).fit(adapter).solve(b)

"""The adapter interface: what the influence measures need from a fitted model.

An adapter turns a fitted model and its training data into arrays. Measures and
solvers see only this interface, never the estimator. Notation (seed 000, §2):

* ``n`` rows, ``p`` input features, ``m`` parameters ``θ``, ``K`` classes
  (``n_outputs``; 1 for regression), ``K'`` raw model outputs (``n_raw_outputs``:
  logits or the mean; 1 for binary classifiers and regressors).
* ``L(y, x; θ)`` the per-row training loss the model minimised, without the penalty;
  the fitted model minimises ``R(θ) = mean_i L_i(θ) + penalty(θ)``.
* ``H = ∂²R(θ̂)``, the mean regularised training Hessian (``m × m``).
* ``M = ∂x∂θ L`` (``m × p``), never built: only products ``u·M = ∂x(u·∂θL)``.

**Capabilities.** Every adapter declares, in :attr:`BaseAdapter.capabilities`, which
groups of methods it implements (the names of :data:`CAPABILITIES`); a measure or a
solver declares which it needs, and :func:`require` raises
:class:`~skinfluence.exceptions.UnsupportedModelError` naming the missing ones. A
method outside the declared capabilities does not exist on the adapter: nothing
probes for it. A declared method may still refuse one particular model (a net
without dropout layers has no MC dropout) with an ``UnsupportedModelError`` that
says why.

All arrays are float64 numpy arrays. Rows are handled in chunks by the caller, so
every method must accept any subset of rows.
"""

from __future__ import annotations

from typing import ClassVar, Protocol

import numpy as np
from sklearn import get_config

from ..exceptions import UnsupportedModelError

__all__ = ["CAPABILITIES", "BaseAdapter", "check_row_weights", "require"]


def check_row_weights(sample_weight, n: int) -> np.ndarray | None:
    """Validated training-row weights: float64, finite, ``≥ 0``, not all zero.

    ``None`` stays ``None`` (unweighted); the caller's array is never modified.
    """
    if sample_weight is None:
        return None
    w = np.array(sample_weight, dtype=np.float64, copy=True).reshape(-1)
    if w.shape != (n,):
        raise ValueError(
            f"sample_weight must have one value per training row ({n}), got shape "
            f"{np.shape(sample_weight)}."
        )
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("sample_weight must be finite and >= 0.")
    if not w.sum() > 0:
        raise ValueError("sample_weight sums to 0: no row weighs anything.")
    return w


class BaseAdapter:
    """Derivatives of a fitted model, as numpy arrays.

    A subclass sets :attr:`capabilities` and implements the methods of each
    capability it names (see :data:`CAPABILITIES`), plus :meth:`encode_y`.

    Attributes
    ----------
    capabilities : frozenset of str
        The method groups of :data:`CAPABILITIES` this adapter implements.
    estimator : fitted estimator
        The model the derivatives are of.
    n_params : int
        Number of parameters ``m`` that influence is taken over.
    n_features : int
        Number of input features ``p`` (the dimension perturbed by FI).
    n_outputs : int
        ``K``: number of classes for classifiers, 1 for regressors.
    n_raw_outputs : int
        ``K'``: width of the model's raw outputs (logits or the mean): 1 for binary
        classifiers and regressors, ``K`` for softmax models.
    is_classifier : bool
        Whether the model is a probabilistic classifier.
    n_train : int
        Number of training rows ``n`` the model was fitted on.
    sample_weight : ndarray of shape (n_train,) or None
        The weight of each training row in the objective the model minimised
        (``None``: every row weighs 1). The mean-loss form is then
        ``Σ_i s_i L_i / Σ_i s_i + penalty``: :meth:`hessian` and the other curvature
        methods are of that weighted mean, :meth:`loss_grad` stays per row (unweighted).
    weight_sum : float
        ``Σ_i s_i`` (``n_train`` without weights): the ``n`` of the measures' ``1/n``.
    """

    capabilities: ClassVar[frozenset[str]] = frozenset()
    estimator: object
    n_params: int
    n_features: int
    n_outputs: int
    n_raw_outputs: int
    is_classifier: bool
    n_train: int
    sample_weight: np.ndarray | None = None

    @property
    def weight_sum(self) -> float:
        """``Σ_i s_i`` over the training rows (``n_train`` when unweighted)."""
        if self.sample_weight is None:
            return float(self.n_train)
        return float(self.sample_weight.sum())

    def row_weights(self, rows=slice(None)) -> np.ndarray | None:
        """The training rows' weights (``None`` when unweighted), for ``rows``."""
        return None if self.sample_weight is None else self.sample_weight[rows]

    @property
    def model_name(self) -> str:
        """Class name of the fitted model, for messages."""
        return type(self.estimator).__name__

    def encode_y(self, y) -> np.ndarray:  # pragma: no cover - every adapter has it
        """Map user labels to the encoding the other methods take.

        Class positions ``0..K-1`` for classifiers, float64 targets for regressors.
        """
        raise NotImplementedError

    def param_groups(self) -> list[np.ndarray]:
        """Positions in ``θ`` of each parameter group ("layer"), for per-layer rules.

        Returns
        -------
        list of ndarray of int
            Disjoint groups covering ``range(n_params)``; one group by default.
        """
        return [np.arange(self.n_params)]

    def loss_grad_dot(self, X, y: np.ndarray, V: np.ndarray) -> np.ndarray:
        """Products ``∂θ L(y_i, x_i; θ̂) · V`` of every row's gradient with ``V``.

        Part of the ``gradients`` capability. This default forms the gradients
        (:meth:`loss_grad`); an adapter with a closed form overrides it so that the
        ``(n, m)`` gradients are never built.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n, p)
        y : ndarray of shape (n,)
            Encoded targets.
        V : ndarray of shape (m,) or (m, r)

        Returns
        -------
        ndarray of shape (n,) or (n, r)
        """
        return self.loss_grad(X, y) @ V

    def loss_grad_sum(self, X, y: np.ndarray, weights=None) -> np.ndarray:
        """The sum ``Σ_i w_i ∂θ L(y_i, x_i; θ̂)`` of the rows' gradients, shape ``(m,)``.

        Part of the ``gradients`` capability; this default sums :meth:`loss_grad`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n, p)
        y : ndarray of shape (n,)
            Encoded targets.
        weights : ndarray of shape (n,), default=None
            Weights of the rows (``None``: 1 each).

        Returns
        -------
        ndarray of shape (m,)
        """
        G = self.loss_grad(X, y)
        return G.sum(axis=0) if weights is None else weights @ G

    def chunk_size(self, width: int = 1, target_mb: float = 64.0) -> int:
        """Rows per chunk so that a ``(rows, width, max(m, p))`` float64 block fits.

        Parameters
        ----------
        width : int, default=1
            Vectors of length ``max(m, p)`` held per row.
        target_mb : float, default=64.0
            Memory allowed for one block, in MiB; scikit-learn's ``working_memory``
            (``sklearn.config_context(working_memory=...)``) lowers it when smaller.

        Returns
        -------
        int
            Number of rows, between 1 and 65,536.
        """
        target_mb = min(float(target_mb), float(get_config()["working_memory"]))
        per_row = 8.0 * max(width, 1) * max(self.n_params, self.n_features, 1)
        return int(max(1, min(1 << 16, target_mb * 2**20 // per_row)))


def require(adapter: BaseAdapter, *capabilities: str, what: str, hint: str = "") -> None:
    """Raise :class:`UnsupportedModelError` unless ``adapter`` has every capability.

    Parameters
    ----------
    adapter : BaseAdapter
    *capabilities : str
        Names from :data:`CAPABILITIES`.
    what : str
        What needs them, for the message (``"method='datainf'"``, ``"solver='kfac'"``).
    hint : str, default=""
        What to use instead, appended to the message.
    """
    unknown = [c for c in capabilities if c not in CAPABILITIES]
    if unknown:  # a programming error in a declaration, not a user error
        raise ValueError(f"unknown adapter capabilities {unknown}; see CAPABILITIES.")
    missing = [c for c in capabilities if c not in adapter.capabilities]
    if missing:
        described = "; ".join(f"{c} ({CAPABILITIES[c].__doc__.splitlines()[0]})" for c in missing)
        raise UnsupportedModelError(
            f"{what} needs {described}, which {type(adapter).__name__} does not provide"
            f" for {adapter.model_name}." + (f" {hint}" if hint else "")
        )


# -- the capabilities: one protocol each, documenting the methods it groups ----------------
class Gradients(Protocol):
    """per-row loss gradients"""

    def loss_grad(self, X, y: np.ndarray) -> np.ndarray:
        """Per-row loss gradients ``∂θ L(y_i, x_i; θ̂)``, shape ``(n, m)``.

        ``y`` is encoded (:meth:`BaseAdapter.encode_y`).
        """

    def loss_grad_dot(self, X, y: np.ndarray, V: np.ndarray) -> np.ndarray:
        """``loss_grad(X, y) @ V`` (a default in :class:`BaseAdapter`), ``(n,)`` or ``(n, r)``."""

    def loss_grad_sum(self, X, y: np.ndarray, weights=None) -> np.ndarray:
        """``Σ_i w_i loss_grad(X, y)[i]`` (a default in :class:`BaseAdapter`), ``(m,)``."""


class HessianDiagonal(Protocol):
    """the diagonal of the Hessian"""

    def hessian_diagonal(self) -> np.ndarray:
        """The diagonal of ``H`` (with ``λ``), shape ``(m,)``, without building ``H``."""

    def hessian_diagonal_blocks(self) -> tuple[np.ndarray, np.ndarray]:
        """``(blocks, index)``: small diagonal blocks of ``H`` (with ``λ``), ``(g, s, s)``,
        and their positions in ``θ``, ``(g, s)``; the diagonal itself when ``s = 1``.

        The (block-)Jacobi preconditioner of conjugate gradient
        (:class:`~skinfluence.curvature.CGSolver`).
        """


class HessianNullSpace(Protocol):
    """the directions the Hessian is singular along by the model's structure"""

    def hessian_null_space(self) -> np.ndarray:
        """An orthonormal basis ``N`` (``m × d``, ``d ≥ 0``) of directions with ``H N = 0``
        whatever the data: a softmax's unpenalised intercepts move every logit alike.

        Conjugate gradient projects its right-hand sides and solutions off ``N``, which
        makes it return the pseudo-inverse solution, as the exact solver does.
        """


class LinearOutputs(Protocol):
    """raw outputs linear in the parameters, through per-row features"""

    def output_metric(self, X) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(w, D, J_x)`` of :meth:`Metric.metric_factors` without ``J_theta``."""

    def output_features(self, X) -> tuple[np.ndarray, np.ndarray]:
        """``(A, index)`` with ``∂θ f_k(x_i) = e_k ⊗ A[i]`` placed at ``θ[index[k]]``.

        ``A`` of shape ``(n, q)`` (a sparse matrix for sparse ``X``) and ``index`` of
        shape ``(K', q)``: ``J_theta[i, k, index[k]] = A[i]``, zero elsewhere (the
        ``J_theta`` of :meth:`Metric.metric_factors`). Measures use it to solve with
        the ``K'`` parameter blocks instead of ``K'`` mostly-zero columns per row
        (:meth:`~skinfluence.curvature.BaseSolver.solve_outputs`).
        """


class Distributed(Protocol):
    """training rows in a dask array"""

    def detached(self) -> BaseAdapter:
        """A copy without the training rows and their weights, to ship to dask workers.

        Every method that takes rows (``loss_grad``, ``mixed_product``, ...) works on
        the copy; those that read the training rows (``hessian``, ``hvp``, ...) do not.
        The adapter itself takes its training rows as a dask array: its reductions
        over them run block by block on the dask scheduler.
        """


class HVP(Protocol):
    """Hessian-vector products"""

    def hvp(self, V: np.ndarray) -> np.ndarray:
        """Return ``H @ V`` for ``V`` of shape ``(m,)`` or ``(m, r)``."""


class Hessian(Protocol):
    """a dense Hessian"""

    def hessian(self) -> np.ndarray:
        """Return the mean regularised training Hessian ``H`` (``m × m``).

        An adapter may refuse a model too large for a dense matrix with a
        ``NotImplementedError`` that names the iterative solver to use.
        """


class BatchHVP(Protocol):
    """minibatch Hessian-vector products"""

    def batch_hvp(self, V: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Minibatch Hessian-vector product: ``mean_{i ∈ rows} ∂²θ L_i V + λ ⊙ V``.

        An unbiased estimate of ``H @ V`` when ``rows`` are drawn uniformly from the
        training rows (stochastic solvers such as LiSSA use it).
        """


class Mixed(Protocol):
    """products with the mixed derivative"""

    def mixed_product(self, X, y: np.ndarray, U: np.ndarray) -> np.ndarray:
        """``∂x (U[i, r] · ∂θ L(y_i, x; θ̂))`` at ``x = x_i``, i.e. ``U[i, r] @ M_i``.

        ``U`` of shape ``(r, m)`` (the same directions for every row) or ``(n, r, m)``
        (directions per row); returns ``(n, r, p)``.
        """

    def mixed_jvp(self, X, y: np.ndarray, C: np.ndarray) -> np.ndarray:
        """``∂θ (∂x L(y_i, x; θ̂) · C[i, r])`` at ``x = x_i``, i.e. ``M_i @ C[i, r]``.

        ``C`` of shape ``(n, r, p)``; returns ``(n, r, m)``.
        """


class Metric(Protocol):
    """factors of the perturbation metric"""

    def metric_factors(self, X) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Factors of the metric tensor ``G_z`` of seed 000 §2, through the outputs.

        ``G_z = Σ_r w_r² a_rᵀ a_r`` with ``a_r = ∂θ l_r · ∂ωθ̂ + ∂x l_r``. For a
        classifier ``r`` runs over the ``K`` classes, ``w_r = √P(r|x)`` and
        ``l_r = log P(r|x)``; for a regressor with Gaussian likelihood
        ``N(μ(x; θ), σ²)`` there is one factor, ``w = 1/σ`` and ``l = μ``. Every
        ``l_r`` is a function of the ``K'`` raw outputs ``f``, ``∂ l_r = Σ_k D[r, k]
        ∂f_k``, so the measures solve ``K'`` (not ``K``) linear systems per row.

        Returns ``w`` (n, R), ``D`` (n, R, K'), ``J_theta = ∂θ f`` (n, K', m) and
        ``J_x = ∂x f`` (n, K', p).
        """


class InputGrad(Protocol):
    """raw outputs and input gradients"""

    def outputs(self, X) -> np.ndarray:
        """The raw outputs ``f`` (logits, log-probabilities or the mean), ``(n, K')``."""

    def input_grad(self, X, y: np.ndarray) -> np.ndarray:
        """Per-row input gradients ``∂x L(y_i, x_i; θ̂)``, shape ``(n, p)``."""


class Link(Protocol):
    """the loss as a function of the raw outputs"""

    def link_derivatives(self, X, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(f, r, Λ)`` per row: raw outputs ``f`` (n, K'), ``r = ∂L/∂f`` (n, K') and
        ``Λ = ∂²L/∂f²`` (n, K', K') at the encoded targets ``y``."""

    def output_proba(self, f: np.ndarray) -> np.ndarray:
        """Class probabilities ``(n, K)`` from raw outputs ``f`` (classifiers); the mean
        ``(n,)`` for regressors."""


class Theta(Protocol):
    """the parameters, and the model at other parameters"""

    def get_theta(self) -> np.ndarray:
        """A copy of the fitted parameters ``θ̂``, shape ``(m,)``."""

    def at_theta(self, theta: np.ndarray) -> BaseAdapter:
        """A copy of the adapter with every derivative taken at ``theta``."""

    def penalty_grad(self) -> np.ndarray:
        """Gradient ``λ ⊙ θ`` of the L2 penalty of the mean-loss form at the adapter's
        ``θ``, shape ``(m,)``: with ``mean_i s_i ∂θL_i`` it is the gradient of ``R(θ)``."""


class Layers(Protocol):
    """parameter blocks by layer"""

    def layer_blocks(self) -> list[tuple[str, np.ndarray]]:
        """``(name, positions in θ)`` of each layer's parameters (DataInf's layers)."""


class OutputContributions(Protocol):
    """each parameter's share of its layer's output"""

    def output_contributions(self, X) -> np.ndarray:
        """Mean size ``mean_i |θ_j u_ij|`` of each parameter's term in its layer output.

        ``u_ij`` is the input that parameter ``j`` multiplies on row ``i`` (1 for a
        bias): seed 004's "outputs" parameter selection. Shape ``(m,)``.
        """


class LinearHead(Protocol):
    """the last linear layer over its input features"""

    def linear_head(self, X, y=None):
        """``(A, R, lam, index)``: the head's features ``ã``, ``∂L/∂s`` (or None),
        the L2 penalty of each column of ``[W | b]`` and the positions in ``θ``."""


class KFAC(Protocol):
    """Kronecker factors of the Gauss-Newton matrix"""

    def kfac_layers(self) -> list:
        """The layers that hold the selected parameters, with their index maps."""

    def kfac_row_factors(self, X) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per layer, each row's ``ã`` and output-curvature roots."""

    def kfac_factors(self) -> list:
        """Per layer, the factors ``A`` and ``G`` of the K-FAC block ``G ⊗ A``."""

    def ekfac_eigenvalues(self, bases) -> list[np.ndarray]:
        """Per layer, the exact Gauss-Newton diagonal in a Kronecker eigenbasis."""


class Checkpoints(Protocol):
    """parameter checkpoints recorded during training"""

    def checkpoints(self) -> list[dict]:
        """The recorded checkpoints, oldest first (``"params"``, ``"lr"``, ``"epoch"``)."""

    def at_state(self, state) -> BaseAdapter:
        """A copy of the adapter at a whole saved module state."""

    def per_parameter(self, values) -> np.ndarray:
        """One value per parameter name spread over ``θ``'s layout, ``(m,)``."""

    def step_sizes(self, lr) -> np.ndarray:
        """The optimizer's step along ``-∂θR`` per parameter for learning rates ``lr``,
        ``(m,)`` (``R`` the mean-loss form; plain SGD)."""


class MCDropout(Protocol):
    """class probabilities under MC dropout"""

    def mc_dropout_proba(self, X, seeds) -> list[np.ndarray]:
        """Class probabilities ``(n, K)`` of one stochastic forward pass per seed."""


class Trees(Protocol):
    """leaf assignments and leaf values of a tree ensemble"""

    def tree_layout(self):
        """The fixed structure as arrays (``skinfluence.adapters.TreeLayout``): global
        leaf positions per tree, leaf values, the raw output and stage of each tree,
        and each training row's weight in each tree (bootstrap counts for forests)."""

    def leaf_indices(self, X) -> np.ndarray:
        """Global leaf positions ``(n, S)`` (int64) of rows ``X`` in the ``S`` trees."""

    def output_proba(self, F: np.ndarray) -> np.ndarray:
        """Class probabilities ``(n, K)`` (classifiers) or the mean ``(n,)`` at raw
        outputs ``F``."""

    def loss(self, F: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Per-row loss ``(n,)`` at raw outputs ``F`` (the training loss for boosting)."""


class Boosting(Protocol):
    """per-stage loss derivatives, shrinkage and L2 leaf regularisation of boosted trees"""

    baseline: np.ndarray

    def raw_outputs(self, leaves: np.ndarray) -> np.ndarray:
        """Raw outputs ``(n, K')`` of rows with global leaf positions ``leaves``."""

    def stage_inputs(self, leaves: np.ndarray) -> np.ndarray:
        """Raw outputs ``F^{(t-1)}`` each stage was fitted at, ``(n, T, K')``."""

    def leaf_sums(self, leaves, F_stage, y, weights):
        """Per-leaf ``G = Σ w g``, ``H = Σ w h`` and ``N = Σ w`` (each ``(L,)``) of rows
        with leaves ``leaves``, stage inputs ``F_stage`` and weights ``weights``."""

    def loss_derivatives(self, F: np.ndarray, y: np.ndarray, order: int = 1):
        """Gradient ``g`` and diagonal Hessian ``h`` the trees are fitted to (each
        ``(n, K')``); with ``order=2`` also ``∂g/∂F`` and ``∂h/∂F`` (``(n, K', K')``)."""

    def leaf_coefficients(self) -> tuple[float, float]:
        """``(a, b)`` of the leaf values ``v = -a G / (H + b)``: the learning rate and
        the L2 leaf regularisation."""

    def leaf_formula(self, G: np.ndarray, H: np.ndarray, N: np.ndarray) -> np.ndarray:
        """Leaf values from per-leaf sums ``G``, ``H`` and row weights ``N`` (0 when empty)."""

    def train_sums(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-leaf ``G``, ``H``, ``N`` of the training rows at the fitted model."""


class OutOfBag(Protocol):
    """the bootstrap samples of a bagged forest"""

    def bootstrap_counts(self) -> np.ndarray:
        """How often each training row was drawn for each tree, ``(n, S)``; 0 = out of bag."""


#: Capability name -> the protocol documenting its methods.
CAPABILITIES: dict[str, type] = {
    "gradients": Gradients,
    "hvp": HVP,
    "hessian": Hessian,
    "hessian_diagonal": HessianDiagonal,
    "hessian_null_space": HessianNullSpace,
    "linear_outputs": LinearOutputs,
    "distributed": Distributed,
    "batch_hvp": BatchHVP,
    "mixed": Mixed,
    "metric": Metric,
    "input_grad": InputGrad,
    "link": Link,
    "theta": Theta,
    "layers": Layers,
    "output_contributions": OutputContributions,
    "linear_head": LinearHead,
    "kfac": KFAC,
    "checkpoints": Checkpoints,
    "mc_dropout": MCDropout,
    "trees": Trees,
    "boosting": Boosting,
    "oob": OutOfBag,
}

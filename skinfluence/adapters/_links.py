"""Link-function math shared by the adapters: the loss and the likelihood in the raw outputs.

A model's raw outputs ``z`` (``K'`` per row, the adapters' ``n_raw_outputs``: logits,
log-probabilities or the mean) enter the per-row loss ``L(y, z)`` and the likelihood
``P(c | z)`` through a *link*. Whatever sits below the outputs (a linear map, a net),
the measures need three per-row quantities of the link, which both adapters take
from here (numpy, float64, vectorised over rows):

* :func:`loss_gradient`: ``r = ∂L/∂z``, shape ``(n, K')``;
* :func:`output_curvature`: ``S = Λ = ∂²L/∂z²``, shape ``(n, K', K')``;
* :func:`metric_factors`: ``w`` ``(n, R)`` and ``D`` ``(n, R, K')`` of the metric
  ``G_z = Σ_r w_r² a_rᵀ a_r`` (seed 000 §2), where ``a_r`` is the derivative of
  ``l_r = log P(r|x)`` (classifiers, ``R = K`` classes) or of the mean ``μ``
  (regressors, ``R = 1``) and ``∂ l_r = Σ_k D[r, k] ∂z_k``.

The links, with ``σ(z) = 1/(1 + e^-z)``, ``P = softmax(z)`` and ``e_y`` the one-hot
target:

``"logistic"``: binary classification on one logit (``K' = 1``, ``R = 2``)::

    L = log(1 + e^z) - y z       r = σ - y        S = σ (1 - σ)
    w = (√(1 - σ), √σ)           D = (-σ, 1 - σ)ᵀ

``"multinomial"``: softmax over ``K`` logits (``K' = R = K``)::

    L = logsumexp(z) - z_y       r = P - e_y      S = diag(P) - P Pᵀ
    w = √P                       D = I - 1 Pᵀ     (D[c, k] = δ_ck - P_k)

``"log_probability"``: the outputs are log-probabilities, ``z_c = log P(c)`` (a
torch ``NLLLoss`` on ``log(P + eps)``; ``K' = R = K``). ``L`` is linear in ``z``,
so its Hessian is zero; ``S`` is the Fisher form instead, the Gauss-Newton matrix
over the logits of a module that ends in a softmax::

    L = -z_y                     r = -e_y         S = diag(e^z)
    w = √(e^z)                   D = I

``"squared"``: a Gaussian mean ``z = μ`` (``K' = R = 1``) with noise level ``s``
(the adapters' ``sigma``)::

    L = ½ (z - y)²               r = z - y        S = 1
    w = 1/s                      D = 1

For the three classification links ``S = Σ_c w_c² D_cᵀ D_c``, the Fisher
information of ``P(c | z)`` in ``z``. ``y`` is always encoded as the adapters'
``encode_y`` does: class positions ``0..K-1`` (0/1 for ``"logistic"``), float
targets for ``"squared"``.

Cost: ``O(n K'²)`` for ``S``, ``O(n K')`` for the rest; no model is touched.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, softmax

__all__ = [
    "LINKS",
    "LinkMixin",
    "loss_gradient",
    "metric_factors",
    "output_curvature",
    "probabilities",
]

#: The links, by name.
LINKS = ("logistic", "multinomial", "log_probability", "squared")


def _unknown(link) -> ValueError:
    return ValueError(f"unknown link {link!r}; one of {', '.join(LINKS)}.")


def loss_gradient(link: str, z, y) -> np.ndarray:
    """Return ``r = ∂L(y, z)/∂z`` per row.

    Parameters
    ----------
    link : str
        One of :data:`LINKS`.
    z : array-like of shape (n, K')
        Raw outputs.
    y : array-like of shape (n,)
        Encoded targets.

    Returns
    -------
    ndarray of shape (n, K')

    Examples
    --------
    >>> import numpy as np
    >>> loss_gradient("multinomial", np.zeros((1, 2)), np.array([1]))
    array([[ 0.5, -0.5]])
    """
    z = np.asarray(z, dtype=np.float64)
    y = np.asarray(y)
    if link == "logistic":
        return expit(z) - y[:, None]
    if link == "multinomial":
        r = softmax(z, axis=1)
        r[np.arange(len(y)), y.astype(np.intp)] -= 1.0
        return r
    if link == "log_probability":
        r = np.zeros_like(z)
        r[np.arange(len(y)), y.astype(np.intp)] = -1.0
        return r
    if link == "squared":
        return z - y[:, None]
    raise _unknown(link)


def output_curvature(link: str, z) -> np.ndarray:
    """Return ``S = Λ = ∂²L/∂z²`` per row (the Fisher form for ``"log_probability"``).

    It does not depend on the target for any of the links.

    Parameters
    ----------
    link : str
        One of :data:`LINKS`.
    z : array-like of shape (n, K')
        Raw outputs.

    Returns
    -------
    ndarray of shape (n, K', K')

    Examples
    --------
    >>> import numpy as np
    >>> output_curvature("logistic", np.zeros((1, 1)))
    array([[[0.25]]])
    """
    z = np.asarray(z, dtype=np.float64)
    if link == "logistic":
        s = expit(z)
        return (s * (1.0 - s))[:, :, None]
    if link == "multinomial":
        P = softmax(z, axis=1)
        return np.einsum("nk,kl->nkl", P, np.eye(P.shape[1])) - P[:, :, None] * P[:, None, :]
    if link == "log_probability":
        return np.einsum("nk,kl->nkl", np.exp(z), np.eye(z.shape[1]))
    if link == "squared":
        return np.ones((z.shape[0], 1, 1))
    raise _unknown(link)


def metric_factors(link: str, z, sigma: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return the factors ``w`` and ``D`` of the metric ``G_z`` through the outputs.

    ``G_z = Σ_r w_r² a_rᵀ a_r`` with ``a_r = Σ_k D[r, k] a(z_k)``, ``a(z_k)`` the
    derivative of the output ``z_k``: the adapters pair ``w`` and ``D`` with the
    Jacobians of ``z`` (the ``metric`` capability of
    :class:`~skinfluence.adapters.BaseAdapter`).

    Parameters
    ----------
    link : str
        One of :data:`LINKS`.
    z : array-like of shape (n, K')
        Raw outputs.
    sigma : float, default=None
        The Gaussian noise level; required for ``"squared"``, ignored otherwise.

    Returns
    -------
    w : ndarray of shape (n, R)
        ``√P(r|x)`` (classifiers) or ``1/sigma`` (``"squared"``).
    D : ndarray of shape (n, R, K')
        ``∂ log P(r|x)/∂z_k`` (classifiers) or ``∂μ/∂z = 1``.

    Examples
    --------
    >>> import numpy as np
    >>> w, D = metric_factors("logistic", np.zeros((1, 1)))
    >>> w ** 2, D[:, :, 0]
    (array([[0.5, 0.5]]), array([[-0.5,  0.5]]))
    """
    z = np.asarray(z, dtype=np.float64)
    n = z.shape[0]
    if link == "logistic":
        s = expit(z[:, 0])
        return np.sqrt(np.stack([1.0 - s, s], axis=1)), np.stack([-s, 1.0 - s], axis=1)[:, :, None]
    if link == "multinomial":
        P = softmax(z, axis=1)
        return np.sqrt(P), np.eye(z.shape[1])[None, :, :] - P[:, None, :]
    if link == "log_probability":
        return np.sqrt(np.exp(z)), np.repeat(np.eye(z.shape[1])[None, :, :], n, axis=0)
    if link == "squared":
        if sigma is None:
            raise ValueError("the metric of the squared link needs the noise level sigma.")
        return np.full((n, 1), 1.0 / sigma), np.ones((n, 1, 1))
    raise _unknown(link)


def probabilities(link: str, z) -> np.ndarray:
    """Class probabilities ``(n, K)`` from raw outputs; the mean ``(n,)`` for ``"squared"``.

    Parameters
    ----------
    link : str
        One of :data:`LINKS`.
    z : array-like of shape (n, K')
        Raw outputs (logits, log-probabilities, the mean). Log-probabilities
        moved away from a normalised point (a leave-one-out step) are renormalised.

    Returns
    -------
    ndarray of shape (n, K) or (n,)

    Examples
    --------
    >>> import numpy as np
    >>> probabilities("logistic", np.zeros((1, 1)))
    array([[0.5, 0.5]])
    """
    z = np.asarray(z, dtype=np.float64)
    if link == "logistic":
        s = expit(z[:, 0])
        return np.stack([1.0 - s, s], axis=1)
    if link in ("multinomial", "log_probability"):
        return softmax(z, axis=1)
    if link == "squared":
        return z[:, 0]
    raise _unknown(link)


class LinkMixin:
    """The ``link`` capability of an adapter with ``outputs(X)`` and a ``link`` name."""

    def link_derivatives(self, X, y) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(f, r, Λ)``: raw outputs, ``∂L/∂f`` and ``∂²L/∂f²`` per row.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n, p)
        y : ndarray of shape (n,)
            Encoded targets.

        Returns
        -------
        f : ndarray of shape (n, K')
        r : ndarray of shape (n, K')
        Lam : ndarray of shape (n, K', K')
        """
        f = np.asarray(self.outputs(X), dtype=np.float64)
        return f, loss_gradient(self.link, f, y), output_curvature(self.link, f)

    def output_proba(self, f) -> np.ndarray:
        """Class probabilities ``(n, K)`` from raw outputs (the mean for regressors).

        Parameters
        ----------
        f : ndarray of shape (n, K')

        Returns
        -------
        ndarray of shape (n, K) or (n,)
        """
        return probabilities(self.link, f)

"""EK-FAC: K-FAC's eigenbasis with eigenvalues fitted to the true curvature.

George, Laurent, Bouthillier, Ballas & Vincent (2018), "Fast approximate natural
gradient descent in a Kronecker-factored eigenbasis"; used for influence by Grosse
et al. (2023), "Studying large language model generalization with influence
functions" (a baseline in seed ``001_88d557979f1cfd41.txt``). K-FAC (see
:mod:`skinfluence.curvature._kfac`) approximates an ``nn.Linear`` layer's
Gauss-Newton block ``GN_l = mean_i Σ_k (S_ik ⊗ ã_i)(S_ik ⊗ ã_i)ᵀ`` by ``G ⊗ A``,
whose eigenvectors are ``Q_G ⊗ Q_A`` (``G = Q_G diag(γ) Q_Gᵀ``,
``A = Q_A diag(α) Q_Aᵀ``) and eigenvalues ``γ_o α_j``. EK-FAC keeps the eigenbasis
and replaces the eigenvalues by the diagonal of the exact block in that basis::

    Λ[o, j] = (Q_G ⊗ Q_A)ᵀ GN_l (Q_G ⊗ Q_A) [oj, oj]
            = mean_i (Σ_k (Q_Gᵀ S_i)[o, k]²) · (Q_Aᵀ ã_i)[j]²

(:meth:`TorchAdapter.ekfac_eigenvalues
<skinfluence.adapters._torch.TorchAdapter.ekfac_eigenvalues>`; exact expectation over
the classes through ``S_i S_iᵀ = J_iᵀ Λ_i J_i``, no label sampling). Among all
matrices ``(Q_G ⊗ Q_A) diag(s) (Q_G ⊗ Q_A)ᵀ`` this ``s = Λ`` is the closest to
``GN_l`` in Frobenius norm, K-FAC's ``s = γ αᵀ`` included: EK-FAC is never further
from the Gauss-Newton block than K-FAC, and it equals it whenever the block is
diagonal in K-FAC's eigenbasis (one training row; a one-output layer on inputs that
are orthogonal one-hot codes; any block that commutes with ``G ⊗ A``). Blocks
between layers are dropped, as in K-FAC.

The layer's L2 penalty ``diag(d)`` (weight decay per column of ``[W | b]``) and
``damping`` join the curvature before the diagonal is taken:
``s = Λ + diag(Q_Aᵀ diag(d) Q_A)``; with the same penalty on every column (the usual
case) that is ``Λ + d`` exactly, otherwise it is the Frobenius-closest diagonal of
the penalty as well. The inverse of a block is then
``X = Q_G [(Q_Gᵀ B Q_A) ⊘ s] Q_Aᵀ`` (``B``, ``X`` the ``d_out × d_a`` matrices of the
block's slice, row-major). Entries ``s`` below ``rcond`` times the block's largest are
treated as zero (the Moore-Penrose inverse in that orthonormal basis) with a
:class:`~skinfluence.exceptions.SingularHessianWarning`.

Cost: K-FAC's factors and eigen-decompositions (``O(d_out³ + d_a³)`` per layer),
plus one more pass over the training rows (``K'`` vector-Jacobian products per
chunk and ``O(n (d_out² K' + d_a²))`` for the projections); each solve is
``O(r (d_out² d_a + d_out d_a²))`` per layer for ``r`` right-hand sides.
"""

from __future__ import annotations

import numpy as np

from ._base import BaseSolver
from ._kfac import layer_damping, warn_singular

__all__ = ["EKFACSolver"]


class EKFACSolver(BaseSolver):
    """Inverse of the eigenvalue-corrected K-FAC approximation (torch nets).

    Parameters
    ----------
    damping : float, default=0.0
        Added to the diagonal, on top of the adapter's L2 penalty ``λ``.
    rcond : float, default=1e-10
        A corrected eigenvalue below ``rcond`` times the block's largest counts as
        zero.

    Attributes
    ----------
    factors_ : list of KFACFactors
        The adapter's Kronecker factors, one per ``nn.Linear`` layer.
    eigenvalues_ : list of ndarray of shape (d_out, d_a)
        The corrected eigenvalues ``Λ`` per layer (without penalty or damping).
    blocks_ : list of tuple
        Per layer ``(index, Q_G, Q_A, inv)`` with ``inv = 1/s`` (zero where
        singular).

    Notes
    -----
    See the module docstring for the formula, sources, exact cases and cost.
    """

    needs = ("kfac",)
    hint = "EK-FAC needs a torch model; linear models have the exact solver: solver='exact'."

    def __init__(self, damping: float = 0.0, rcond: float = 1e-10):
        super().__init__(damping)
        self.rcond = rcond

    def fit(self, adapter) -> EKFACSolver:
        """Collect K-FAC's eigenbasis and the corrected eigenvalues of ``adapter``.

        Parameters
        ----------
        adapter : TorchAdapter
            Fitted torch adapter whose selected parameters all sit in ``nn.Linear``
            layers.

        Returns
        -------
        self : EKFACSolver
            The fitted solver.
        """
        super().fit(adapter)
        self.factors_ = adapter.kfac_factors()
        bases = []
        for F in self.factors_:
            _, QG = np.linalg.eigh(0.5 * (F.G + F.G.T))
            _, QA = np.linalg.eigh(0.5 * (F.A + F.A.T))
            bases.append((QG, QA))
        self.eigenvalues_ = adapter.ekfac_eigenvalues(bases)
        lam = np.asarray(adapter.lam, dtype=np.float64)
        self.blocks_ = []
        singular = []
        for F, (QG, QA), Lam in zip(self.factors_, bases, self.eigenvalues_, strict=True):
            L = F.layer
            d = layer_damping(lam, L, self.damping, "a Kronecker eigenbasis")
            s = Lam + ((QA**2).T @ d)[None, :]
            keep = s > self.rcond * max(float(np.abs(s).max()), 1e-300)
            if not keep.all():
                singular.append(f"{L.module or '<module>'} ({(~keep).sum()} of {s.size})")
            inv = np.where(keep, 1.0 / np.where(keep, s, 1.0), 0.0)
            self.blocks_.append((L.index, QG, QA, inv))
        warn_singular("EK-FAC", singular)
        return self

    def solve(self, B: np.ndarray) -> np.ndarray:
        """Return the EK-FAC inverse applied to ``B``, block by block.

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
        for index, QG, QA, inv in self.blocks_:
            Xb = B2[index].T.reshape(r, QG.shape[0], QA.shape[0])
            Y = (QG.T @ Xb @ QA) * inv
            out[index] = (QG @ Y @ QA.T).reshape(r, -1).T
        return out.reshape(B.shape)

    def matrix_blocks(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The explicit EK-FAC curvature blocks (without penalty and damping).

        Returns
        -------
        list of (ndarray of int, ndarray of shape (d, d))
            Per layer, the positions in ``θ`` and ``(Q_G ⊗ Q_A) diag(Λ) (Q_G ⊗ Q_A)ᵀ``
            with ``d = d_out · d_a`` — for checks on small layers only.
        """
        out = []
        for (index, QG, QA, _), Lam in zip(self.blocks_, self.eigenvalues_, strict=True):
            Q = np.kron(QG, QA)
            out.append((index, (Q * Lam.ravel()) @ Q.T))
        return out

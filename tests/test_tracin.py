"""TracIn-CP and Self-TracIn against direct computations from saved checkpoints.

* One checkpoint at the fitted parameters: ``tracin = η · ip`` and
  ``self_tracin = η ‖g_i‖²`` exactly.
* Several checkpoints and per-group learning rates: the sum over checkpoints
  recomputed with plain autograd on a float64 copy of the module loaded with each
  checkpoint's state.
* The callback: which epochs it keeps, CPU float32 copies, reset on refit.
* Clear errors: scikit-learn models, nets without the callback.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from skinfluence import InfluenceTrimmer, UnsupportedModelError, influence_scores
from skinfluence.adapters import make_adapter
from skinfluence.influence import ip_scores, self_tracin_scores, tracin_scores

# torch-only module: skipped as a whole where torch or skorch cannot be imported
torch = pytest.importorskip("torch")
pytest.importorskip("skorch")
from _nets import MLP  # noqa: E402
from skorch import NeuralNetClassifier  # noqa: E402

from skinfluence.callbacks import TracInCheckpoints  # noqa: E402

pytestmark = pytest.mark.torch


def rel_err(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def data(n=80, seed=0):
    X, y = make_classification(
        n_samples=n + 30,
        n_features=4,
        n_informative=3,
        n_redundant=0,
        n_classes=3,
        random_state=seed,
    )
    X = StandardScaler().fit_transform(X).astype(np.float32)
    return X[:n], y[:n], X[n:], y[n:]


def fit(X, y, every=1, **kwargs):
    torch.manual_seed(0)
    params = dict(
        criterion=torch.nn.CrossEntropyLoss,
        max_epochs=3,
        lr=0.1,
        batch_size=16,
        train_split=None,
        verbose=0,
        callbacks=[TracInCheckpoints(every=every)],
    )
    params.update(kwargs)
    return NeuralNetClassifier(MLP, **params).fit(X, y)


def callback(net) -> TracInCheckpoints:
    return next(cb for _, cb in net.callbacks_ if isinstance(cb, TracInCheckpoints))


def test_one_checkpoint_is_lr_times_ip():
    X, y, Xv, yv = data()
    lr = 0.07
    net = fit(X, y, every=2, max_epochs=2, lr=lr)
    assert [c["epoch"] for c in callback(net).checkpoints_] == [2]
    ad = make_adapter(net, X, y)
    ye, yve = ad.encode_y(y), ad.encode_y(yv)
    got = tracin_scores(ad, None, X, ye, Xv, yve)
    assert rel_err(got, lr * ip_scores(ad, None, X, ye, Xv, yve)) < 1e-10
    G = ad.loss_grad(X, ye)
    self_got = self_tracin_scores(ad, None, X, ye, None, None)
    assert rel_err(self_got, lr * (G**2).sum(1)) < 1e-10
    # through the public entry point, with the last layer only (TracIn-Last)
    last = influence_scores(net, X, y, Xv, yv, "tracin", params="last")
    ad_last = make_adapter(net, X, y, params="last")
    assert rel_err(last, lr * ip_scores(ad_last, None, X, ye, Xv, yve)) < 1e-10


def test_several_checkpoints_and_group_lrs_against_autograd():
    X, y, Xv, yv = data()
    net = fit(
        X,
        y,
        every=2,
        max_epochs=5,
        lr=0.1,
        optimizer__param_groups=[("head.*", {"lr": 0.03})],
    )
    ckpts = callback(net).checkpoints_
    assert [c["epoch"] for c in ckpts] == [2, 4, 5]  # every 2nd epoch, then the final one
    assert all(a.dtype == np.float32 for c in ckpts for a in c["params"].values())
    assert ckpts[0]["lr"]["head.weight"] == 0.03 and ckpts[0]["lr"]["body.0.weight"] == 0.1
    # the last checkpoint is the fitted net
    for name, p in net.module_.named_parameters():
        np.testing.assert_array_equal(ckpts[-1]["params"][name], p.detach().numpy())

    got = influence_scores(net, X, y, Xv, yv, "tracin")
    got_self = influence_scores(net, X, y, Xv, yv, "self_tracin")

    Xt, Tt = torch.tensor(X, dtype=torch.float64), torch.tensor(y)
    Xvt, Tvt = torch.tensor(Xv, dtype=torch.float64), torch.tensor(yv)
    want, want_self = np.zeros(len(X)), np.zeros(len(X))
    for c in ckpts:
        mod = copy.deepcopy(net.module_).double()
        mod.load_state_dict({k: torch.tensor(v) for k, v in c["params"].items()})
        params = list(mod.parameters())
        eta = [c["lr"][n] for n, _ in mod.named_parameters()]
        lv = torch.nn.functional.cross_entropy(mod(Xvt), Tvt)
        gv = torch.autograd.grad(lv, params)
        for i in range(len(X)):
            li = torch.nn.functional.cross_entropy(mod(Xt[i : i + 1]), Tt[i : i + 1])
            gi = torch.autograd.grad(li, params)
            want[i] += sum(e * (a * b).sum().item() for e, a, b in zip(eta, gv, gi))
            want_self[i] += sum(e * (b * b).sum().item() for e, b in zip(eta, gi))
    assert rel_err(got, -want / len(X)) < 1e-8
    assert rel_err(got_self, want_self) < 1e-8
    # the checkpoints matter: the sum differs from the final-model term alone
    ad = make_adapter(net, X, y)
    ip_final = ip_scores(ad, None, X, ad.encode_y(y), Xv, ad.encode_y(yv))
    assert rel_err(got, 0.1 * ip_final) > 1e-2


def test_refit_clears_checkpoints_and_partial_fit_appends():
    X, y, _, _ = data()
    net = fit(X, y, max_epochs=2)
    assert [c["epoch"] for c in callback(net).checkpoints_] == [1, 2]
    net.fit(X, y)
    assert [c["epoch"] for c in callback(net).checkpoints_] == [1, 2]
    net.partial_fit(X, y)
    assert [c["epoch"] for c in callback(net).checkpoints_] == [1, 2, 3, 4]
    assert callback(net).total_bytes() == 4 * 4 * sum(p.numel() for p in net.module_.parameters())


def test_bad_every():
    X, y, _, _ = data()
    with pytest.raises(ValueError, match="every must be a positive int"):
        fit(X, y, every=0)


def test_tracin_errors_clearly():
    X, y, Xv, yv = data()
    lr_model = LogisticRegression().fit(X, y)
    with pytest.raises(UnsupportedModelError, match="TracInCheckpoints"):
        influence_scores(lr_model, X, y, Xv, yv, "tracin")
    with pytest.raises(UnsupportedModelError, match="method='ip'"):
        influence_scores(lr_model, X, y, Xv, yv, "self_tracin")
    torch.manual_seed(0)
    plain = NeuralNetClassifier(
        MLP, criterion=torch.nn.CrossEntropyLoss, max_epochs=1, train_split=None, verbose=0
    ).fit(X, y)
    with pytest.raises(UnsupportedModelError, match="has no TracInCheckpoints callback"):
        influence_scores(plain, X, y, Xv, yv, "tracin")
    with pytest.raises(UnsupportedModelError, match="has no TracInCheckpoints callback"):
        InfluenceTrimmer(
            NeuralNetClassifier(
                MLP, criterion=torch.nn.CrossEntropyLoss, max_epochs=1, train_split=None, verbose=0
            ),
            method="tracin",
        ).fit(X, y)


def test_tracin_uses_the_objective():
    from skinfluence.influence import BaseObjective

    class FirstRowLoss(BaseObjective):
        def grad(self, adapter, X_val, y_val_enc):
            return adapter.loss_grad(X_val[:1], y_val_enc[:1])[0]

    X, y, Xv, yv = data()
    net = fit(X, y, every=1, max_epochs=2)
    ad = make_adapter(net, X, y)
    ye, yve = ad.encode_y(y), ad.encode_y(yv)
    got = tracin_scores(ad, None, X, ye, Xv, yve, objective=FirstRowLoss())
    want = tracin_scores(ad, None, X, ye, Xv[:1], yve[:1])
    assert rel_err(got, want) < 1e-10

"""Between-class patterns: Haufe's pattern with the class means as the signal."""

import numpy as np
import pytest
import torch
from torch import nn

from neurolrp.lrp import compute_between_class_patterns, prepare_model
from neurolrp.models import EEGNet


def test_between_class_pattern_is_the_class_difference_for_two_classes():
    """Two classes, a dense filter: C_B is rank one, so a_j is the class-mean difference."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 5)).astype(np.float32)
    y = np.repeat([0, 1], 50)
    X[y == 1] += np.array([2.0, -1.0, 0.0, 0.5, 0.0], dtype=np.float32)
    net = nn.Sequential(nn.Linear(5, 3), nn.ReLU(), nn.Linear(3, 2))
    a = compute_between_class_patterns(net, X, y, layers=["0"])["0"].numpy()
    diff = X[y == 1].mean(0) - X[y == 0].mean(0)
    w = net[0].weight.detach().numpy()
    np.testing.assert_allclose(a, np.outer(1.0 / (w @ diff), diff), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose((a * w).sum(1), 1.0, rtol=1e-5)


def test_between_class_pattern_of_eegnets_depthwise_spatial_filter():
    """Per input map: a_j = C_B w_j / (w_j^T C_B w_j), C_B over electrodes, computed directly."""
    torch.manual_seed(0)
    m = EEGNet(6, 50, 2, 100).eval()
    X = torch.randn(40, 6, 50)
    y = np.repeat([0, 1], 20)
    X[y == 1, 2, 20:] += 2.0
    net, _ = prepare_model(m)
    got = compute_between_class_patterns(m, X, y, layers=["3"])["3"]
    seen = {}
    hook = net.get_submodule("3").register_forward_hook(
        lambda mod, i, o: seen.__setitem__("h", i[0].double()))
    with torch.no_grad():
        net(X)
    hook.remove()
    H, w = seen["h"], net.get_submodule("3").weight.detach().double()
    per_map = w.shape[0] // H.shape[1]
    for j in range(w.shape[0]):
        g = j // per_map
        C_B = sum((y == c).mean() * (H[y == c].mean(0)[g] - H.mean(0)[g])
                  @ (H[y == c].mean(0)[g] - H.mean(0)[g]).T / H.shape[-1] for c in (0, 1))
        wj = w[j, 0, :, 0]
        np.testing.assert_allclose(got[j, 0, :, 0].numpy(), (C_B @ wj / (wj @ C_B @ wj)).numpy(),
                                   rtol=1e-4, atol=1e-6)


def test_classifier_keeps_them_through_save_and_load_and_explain_uses_them(tmp_path):
    """Measured at fit on the training data, saved and loaded exactly; the waveform
    composite's spatial filter explains with them, and says so."""
    import json

    import neurolrp
    from neurolrp import EEGClassifier
    from neurolrp.datasets import simulate_erp

    epochs, _ = simulate_erp(n_trials=40, paradigm="p300", seed=0, verbose=False)
    clf = EEGClassifier("eegnet", max_epochs=2, patience=2, verbose=False, seed=0).fit(epochs)
    assert set(clf.class_patterns_) == set(clf.patterns_)
    clf.save(tmp_path / "clf.pt")
    back = EEGClassifier.load(tmp_path / "clf.pt")
    for name, a in clf.class_patterns_.items():
        assert torch.equal(back.class_patterns_[name], a)
    rel = neurolrp.explain(back, epochs[:4], verbose=False)
    rules = json.loads(rel.attrs["rules"])
    assert rules["3"]["rule"] == "PatternEnergy" and rules["3"]["signal"] == "between"
    assert rel.attrs["class_patterns_from"] == "training data"
    # a classifier saved before they were kept: explain measures them on the data it
    # explains (by label, as at fit) and says so; an Explainer asks for X
    back.class_patterns_ = None
    rel = neurolrp.explain(back, epochs[:6], verbose=False)
    assert rel.attrs["class_patterns_from"] == "explained data, by label"
    with pytest.raises(ValueError, match="between-class patterns"):
        neurolrp.Explainer(back)

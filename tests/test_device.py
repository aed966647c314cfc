"""Devices: where training and explanation run, and that results come back on the CPU.

These run on a CPU-only machine: they check the validation of ``device``, the
explicit CPU path, and that a file saved on a GPU loads without one (the
file's storages are tagged as CUDA's, as ``torch.save`` tags them on a GPU).
``benchmarks/gpu_check.py`` checks the CUDA path itself on a GPU machine.
"""

import copy

import numpy as np
import pytest
import torch
import torch.serialization
from sklearn.base import clone

from neurolrp import EEGClassifier, explain
from neurolrp._device import check_device, module_device

FAST = dict(max_epochs=3, patience=3, verbose=False, sfreq=32.0)


def _toy(n=24, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4, 64)).astype(np.float32)
    y = np.array(["a", "b"] * (n // 2))
    X[y == "b", 0] *= 3.0
    return X, y


@pytest.fixture(scope="module")
def toy_fitted():
    X, y = _toy()
    return EEGClassifier("shallow", **FAST).fit(X, y), X, y


def _no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_check_device_accepts_and_refuses(monkeypatch):
    assert check_device("cpu") == torch.device("cpu")
    assert check_device("cpu:0") == torch.device("cpu")
    assert check_device(torch.device("cpu")) == torch.device("cpu")
    _no_cuda(monkeypatch)
    assert check_device("auto") == torch.device("cpu")
    assert check_device(None) == torch.device("cpu")
    for bad in ("gpu", "cuda:x", "", "nonsense"):
        with pytest.raises(ValueError, match="not a device"):
            check_device(bad)
    for other in ("meta", "mps"):
        with pytest.raises(ValueError, match="CPU or on CUDA"):
            check_device(other)
    for wrong in (0, 1.5, True, ["cpu"]):
        with pytest.raises(TypeError, match="device must be"):
            check_device(wrong)
    for cuda in ("cuda", "cuda:1", torch.device("cuda", 0)):
        with pytest.raises(ValueError, match="CUDA GPU, but torch sees none"):
            check_device(cuda)


def test_check_device_with_cuda_present(monkeypatch):
    # no GPU needed: only the resolution is checked, nothing is allocated
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert check_device("auto") == torch.device("cuda")
    assert check_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(ValueError, match="has 2 CUDA GPU"):
        check_device("cuda:2")


def test_module_device():
    assert module_device(torch.nn.Linear(2, 2)) == torch.device("cpu")
    assert module_device(torch.nn.Flatten()) == torch.device("cpu")  # no parameters at all


def test_classifier_device_param(monkeypatch):
    clf = EEGClassifier("shallow", device="cpu", **FAST)
    assert clf.get_params()["device"] == "cpu"
    assert clone(clf).get_params() == clf.get_params()
    assert EEGClassifier().get_params()["device"] == "auto"
    X, y = _toy()
    with pytest.raises(ValueError, match="not a device"):
        EEGClassifier("shallow", device="gpu", **FAST).fit(X, y)
    _no_cuda(monkeypatch)
    with pytest.raises(ValueError, match="torch sees none"):
        EEGClassifier("shallow", device="cuda", **FAST).fit(X, y)
    assert not hasattr(clf, "module_")


def test_explicit_cpu_is_the_default_here(toy_fitted, monkeypatch):
    _no_cuda(monkeypatch)  # "auto" must mean the CPU here, also on a GPU machine
    X, y = _toy()
    auto = EEGClassifier("shallow", **FAST).fit(X, y)
    cpu = EEGClassifier("shallow", device="cpu", **FAST).fit(X, y)
    assert auto.device_ == cpu.device_ == torch.device("cpu")
    np.testing.assert_array_equal(auto.logits(X), cpu.logits(X))
    a = explain(auto, X[:5], y=y[:5], verbose=False)
    b = explain(cpu, X[:5], y=y[:5], device="cpu", verbose=False)
    c = explain(cpu, X[:5], y=y[:5], device=torch.device("cpu"), verbose=False)
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.values, c.values)
    assert isinstance(a.values, np.ndarray)


def test_explain_refuses_missing_cuda_before_work(toy_fitted, monkeypatch):
    clf, X, y = toy_fitted
    _no_cuda(monkeypatch)
    with pytest.raises(ValueError, match="torch sees none"):
        explain(clf, X, device="cuda:0")
    with pytest.raises(ValueError, match="not a device"):
        explain(clf.module_, clf.scale(X), method="gradient", device="nonsense")


def test_explain_plain_network_on_its_device(toy_fitted):
    clf, X, y = toy_fitted
    net = clf.module_
    rel = explain(net, clf.scale(X[:4]), method="gradient", verbose=False)
    assert rel.dtype == np.float32 and rel.shape == (4, 4, 64)
    assert module_device(net) == torch.device("cpu")  # the user's network is not moved


def _save_as_if_on_gpu(clf, fname, monkeypatch):
    """Save with every storage tagged 'cuda:0', which torch.load cannot restore without map_location."""
    with monkeypatch.context() as m:
        m.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        clf.save(fname)


def test_gpu_saved_classifier_loads_on_cpu(toy_fitted, tmp_path, monkeypatch):
    clf, X, y = toy_fitted
    _no_cuda(monkeypatch)
    fname = tmp_path / "gpu.pt"
    _save_as_if_on_gpu(clf, fname, monkeypatch)
    with pytest.raises(RuntimeError, match="CUDA"):  # the file really says CUDA
        torch.load(fname, weights_only=False)
    loaded = EEGClassifier.load(fname)
    assert loaded.device_ == torch.device("cpu")
    np.testing.assert_array_equal(loaded.logits(X), clf.logits(X))
    np.testing.assert_array_equal(explain(loaded, X[:3], verbose=False).values,
                                  explain(clf, X[:3], verbose=False).values)


def test_load_with_cuda_param_falls_back_to_cpu(toy_fitted, tmp_path, monkeypatch):
    clf, X, y = toy_fitted
    _no_cuda(monkeypatch)
    fname = tmp_path / "cuda_param.pt"
    on_gpu = copy.deepcopy(clf).set_params(device="cuda")  # as if fitted with device="cuda"
    _save_as_if_on_gpu(on_gpu, fname, monkeypatch)
    loaded = EEGClassifier.load(fname)
    assert loaded.device == "cuda" and loaded.device_ == torch.device("cpu")
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    assert EEGClassifier.load(fname, device="cpu").device == "cpu"
    with pytest.raises(ValueError, match="torch sees none"):
        EEGClassifier.load(fname, device="cuda")


def test_batch_size_from_memory():
    from neurolrp._device import batch_size_from_memory

    assert batch_size_from_memory(10_000, 1_000, 100) == 5  # half of the free memory
    assert batch_size_from_memory(10_000, 1_000, 3) == 3  # never more than the trials
    assert batch_size_from_memory(100, 1_000, 50) == 1  # at least one trial
    assert batch_size_from_memory(100, 0, 50) == 50


def test_auto_batch_size_measures_a_gpu_pass(monkeypatch):
    """On CUDA the batch follows the measured peak memory of a probe pass and the
    memory free now (torch.cuda's counters faked: this machine has no GPU)."""
    from neurolrp._device import CPU_BATCH_SIZE, PROBE_TRIALS, auto_batch_size

    state = {"peak": 0}
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: 500)
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats",
                        lambda device=None: state.update(peak=500))
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: state["peak"])
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (40_000, 80_000))
    probed = []

    def run_pass(k):
        probed.append(k)
        state["peak"] = 500 + 1_000 * k  # 1,000 bytes per trial

    assert auto_batch_size(torch.device("cuda"), 1000, run_pass) == 20
    assert probed == [PROBE_TRIALS]
    assert auto_batch_size(torch.device("cpu"), 1000, run_pass) == CPU_BATCH_SIZE
    assert auto_batch_size(torch.device("cpu"), 5, run_pass) == 5
    assert probed == [PROBE_TRIALS]  # no probe on the CPU


@pytest.mark.parametrize("method", ["lrp", "random"])
def test_results_do_not_depend_on_the_batch_size(toy_fitted, method):
    clf, X, y = toy_fitted
    auto = explain(clf, X, method=method, verbose=False)
    small = explain(clf, X, method=method, batch_size=3, verbose=False)
    np.testing.assert_allclose(auto.values, small.values, rtol=1e-5, atol=1e-7)

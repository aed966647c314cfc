"""The default composite chosen per network everywhere a user explains (explain, report,
study, command line), and the ERP view: class-average waveforms beside relevance."""

import json

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

import neurolrp
from neurolrp import EEGClassifier, Explainer, explain
from neurolrp.datasets import simulate_erp
from neurolrp.lrp import DEFAULT_COMPOSITE, WAVEFORM_COMPOSITE
from neurolrp.viz import plot_erp_relevance

matplotlib.use("Agg")

#: Small and quick: 40 trials of 14 channels at 64 Hz (0.5 s, 33 samples: EEGNet needs 32).
CHANNELS = ["F3", "Fz", "F4", "FC3", "FCz", "FC4", "C3", "Cz", "C4", "CP3", "CPz", "CP4",
            "O1", "O2"]


def _erp(n=40, paradigm="p300", seed=0):
    return simulate_erp(n, paradigm, 3.0, channels=CHANNELS, sfreq=64.0, seed=seed,
                        verbose=False)[0]


@pytest.fixture(scope="module")
def erp():
    return _erp()


@pytest.fixture(scope="module")
def fitted(erp):
    return {m: EEGClassifier(m, max_epochs=2, patience=2, verbose=False).fit(erp)
            for m in ("eegnet", "shallow")}


# ------------------------------------------------------------ the default, per network
def test_explain_records_the_composite_chosen_for_the_network(erp, fitted):
    rel = explain(fitted["eegnet"], erp[:4], verbose=False)
    assert rel.attrs["composite"] == WAVEFORM_COMPOSITE == "epsilon-energy-pattern"
    rules = [r["rule"] for r in json.loads(rel.attrs["rules"]).values()]
    assert "PatternEnergy" in rules  # the waveform composite's rules, not only its name
    rel = explain(fitted["shallow"], erp[:4], verbose=False)
    assert rel.attrs["composite"] == DEFAULT_COMPOSITE == "epsilon-pattern-box"
    assert "PatternEnergy" not in [r["rule"] for r in json.loads(rel.attrs["rules"]).values()]
    # a plain network is judged by its layers too
    labels = erp.events[:, 2]
    rel = explain(fitted["eegnet"].module_, fitted["eegnet"].scale(erp.get_data()),
                  y=labels, verbose=False)
    assert rel.attrs["composite"] == WAVEFORM_COMPOSITE
    assert rel.attrs["class_patterns_from"] == "explained data, by label"


def test_an_explicit_composite_wins(erp, fitted):
    for m in ("eegnet", "shallow"):
        rel = explain(fitted[m], erp[:3], composite="epsilon", verbose=False)
        assert rel.attrs["composite"] == "epsilon"
        assert Explainer(fitted[m], composite="epsilon-gamma-box")(erp[:2]).attrs[
            "composite"] == "epsilon-gamma-box"
    # the default is the same numbers as naming it
    a = explain(fitted["eegnet"], erp[:3], verbose=False)
    b = explain(fitted["eegnet"], erp[:3], composite=WAVEFORM_COMPOSITE, verbose=False)
    np.testing.assert_array_equal(a.values, b.values)


def test_command_lines_default_to_the_choice_per_network():
    from neurolrp.cli import build_parser

    parser = build_parser()
    for argv in (["demo"], ["run"], ["study", "--subjects", "1"]):
        assert parser.parse_args(argv).composite is None, argv
    assert parser.parse_args(["run", "--composite", "epsilon"]).composite == "epsilon"


def test_study_config_leaves_the_choice_to_each_network():
    from neurolrp.study._inputs import check_config

    config, comp = check_config(("eegnet",), None, 2, 0, None, None, None, None, False)
    assert config["composite"] is None and comp is None
    config, comp = check_config(("eegnet",), "epsilon", 2, 0, None, None, None, None, False)
    assert config["composite"] == "epsilon" and comp.name == "epsilon"


# ------------------------------------------------------------ reports record what was used
def _erp_subject(subject):
    return _erp(40, "p300", seed=subject)


def test_study_subject_and_report_record_the_waveform_composite():
    """A study subject (its report inside) explained by EEGNet: the waveform composite
    is chosen, recorded in the summary and the relevance, and the report shows the
    class-average waveforms."""
    from neurolrp.study._inputs import check_config, resolve_dataset
    from neurolrp.study._runner import process_subject

    source = resolve_dataset(_erp_subject, None, None, None, [1])
    config, _ = check_config(("eegnet",), None, 2, 0, {"max_epochs": 2, "patience": 2}, None,
                             None, None, False)
    out = process_subject(source, 1, config, slider_trials=0)
    assert out["summary"]["composite"] == WAVEFORM_COMPOSITE
    html = out["html"].decode()
    assert "Class-average waveforms and relevance over time" in html
    assert "composite epsilon-energy-pattern" in html  # how it was made


def test_report_records_an_explicit_composite_and_no_erp_view_for_band_power(tmp_path, erp):
    from neurolrp.report import subject_report

    summary = subject_report(erp, tmp_path / "r", models=("shallow",), composite="epsilon",
                             n_splits=2, quality=False, max_trials=0,
                             classifier_params={"max_epochs": 2, "patience": 2}, verbose=False)
    assert summary["composite"] == "epsilon"
    rel = neurolrp.load_relevance(tmp_path / "r" / "relevance.nc")
    assert rel.attrs["composite"] == "epsilon"
    html = (tmp_path / "r" / "report.html").read_text()
    # ShallowNet reads band power: the class-average waveform view is left out
    assert "Class-average waveforms" not in html


def test_composite_used_per_fold():
    from neurolrp.report import _composite_used

    rel = neurolrp.make_relevance(np.zeros((1, 2, 3)), channels=["a", "b"],
                                  times=np.arange(3.0), y_pred=["x"], target=["x"],
                                  score=[1.0], attrs={"composite": "epsilon"})
    assert _composite_used(rel) == "epsilon"
    rel.attrs["composite"] = json.dumps([WAVEFORM_COMPOSITE, DEFAULT_COMPOSITE,
                                         WAVEFORM_COMPOSITE])
    assert _composite_used(rel) == (f"{WAVEFORM_COMPOSITE} (folds 1, 3), "
                                    f"{DEFAULT_COMPOSITE} (folds 2)")


# ------------------------------------------------------------ the ERP figure
def _rel_of(epochs, values, correct=None):
    """Relevance of ``epochs`` with given values (labels from the epochs)."""
    y = np.array([{v: k for k, v in epochs.event_id.items()}[c] for c in epochs.events[:, 2]])
    y_pred = y.copy()
    if correct is not None:
        other = sorted(set(y))
        y_pred[~correct] = [other[1 - other.index(c)] for c in y[~correct]]
    pos = neurolrp.relevance.channel_positions(epochs.info)
    return neurolrp.make_relevance(values, channels=epochs.ch_names, times=epochs.times,
                                   y_true=y, y_pred=y_pred, target=y_pred, ch_pos=pos,
                                   score=np.ones(len(y)),
                                   trial=epochs.selection,
                                   attrs={"method": "test", "sfreq": epochs.info["sfreq"]})


def test_plot_erp_relevance_draws_waveforms_and_relevance(erp):
    n, c, t = len(erp), len(erp.ch_names), len(erp.times)
    values = np.zeros((n, c, t))
    values[:, erp.ch_names.index("Cz")] = 2.0  # strongest: Cz, then CPz, then O1
    values[:, erp.ch_names.index("CPz")] = 1.0
    values[:, erp.ch_names.index("O1")] = 0.5
    rel = _rel_of(erp, values)
    fig = plot_erp_relevance(erp, rel)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["Cz", "CPz", "O1", "all channels"]
    # the waveform at Cz is the class average in µV
    data = erp.get_data() * 1e6
    y = rel.y_true.values
    top = fig.axes[0]
    cls = sorted(set(y))
    for line, c in zip(top.get_lines()[:2], cls):
        np.testing.assert_allclose(line.get_ydata(),
                                   data[y == c][:, erp.ch_names.index("Cz")].mean(0))
    # relevance at Cz: 2 for every class
    bottom = fig.axes[4]
    assert all(np.allclose(ln.get_ydata(), 2.0) for ln in bottom.get_lines()[:2])
    plt.close(fig)
    fig = plot_erp_relevance(erp.get_data(), rel, channels=["O2"])
    assert [ax.get_title() for ax in fig.axes if ax.get_title()] == ["O2", "all channels"]
    assert fig.axes[0].get_ylabel() == "EEG (amplitude)"
    plt.close(fig)


def test_plot_erp_relevance_matches_epochs_by_trial_number(erp):
    sub = erp[[5, 9, 2, 30, 11, 17]]
    rng = np.random.default_rng(0)
    rel = _rel_of(sub, rng.normal(size=(6, len(erp.ch_names), len(erp.times))))
    # matched by position instead, these trials would get other labels
    assert (rel.y_true.values[[3, 1, 0, 5, 2, 4]] != rel.y_true.values).any()
    lines = []
    for r in (rel, rel.isel(trial=[3, 1, 0, 5, 2, 4])):  # the same trials in another order
        fig = plot_erp_relevance(sub, r, channels=["Cz"])
        lines.append([ln.get_ydata() for ln in fig.axes[0].get_lines()[:2]])
        plt.close(fig)
    np.testing.assert_allclose(lines[0], lines[1])
    with pytest.raises(ValueError, match="hold 3 trials, the relevance 6"):
        plot_erp_relevance(sub[:3], rel)
    with pytest.raises(ValueError, match="Unknown channel"):
        plot_erp_relevance(sub, rel, channels=["Pz"])
    with pytest.raises(TypeError, match="list of channel names"):
        plot_erp_relevance(sub, rel, channels="Cz")
    with pytest.raises(ValueError, match="samples"):
        plot_erp_relevance(sub.copy().crop(0, 0.2), rel)
    with pytest.raises(ValueError, match="labelled trials"):
        plot_erp_relevance(sub, rel.drop_vars(["y_true", "correct"]))
    with pytest.raises(ValueError, match="n_channels"):
        plot_erp_relevance(sub, rel, n_channels=0)

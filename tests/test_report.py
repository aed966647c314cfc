"""The report's parts: misclassified trials (saw vs missed, or the least confident
correct ones), the trial slider, the chance test and the best network, conservation
in words, captions; and the single-trial figures they use."""

import json

import matplotlib
import matplotlib.pyplot as plt
import mne
import numpy as np
import pandas as pd
import pytest

import neurolrp
from neurolrp import report, viz
from neurolrp.decoding import CVResult, best_network, chance_test

from test_stats import _truth

matplotlib.use("Agg")

CLASSES = ("left", "right")


def _rel(wrong=(1, 4), n=8, seed=0, trial=None):
    """Relevance of ``n`` trials for the predicted class and for the other class;
    trials at positions ``wrong`` misclassified."""
    truth, pos = _truth(step=20)
    rng = np.random.default_rng(seed)
    y_true = np.array([CLASSES[k % 2] for k in range(n)])
    y_pred = y_true.copy()
    for k in wrong:
        y_pred[k] = CLASSES[1 - CLASSES.index(y_true[k])]
    other = np.array([CLASSES[1 - CLASSES.index(p)] for p in y_pred])
    kw = dict(channels=[str(c) for c in truth.channel.values], times=truth.time.values,
              y_pred=y_pred, y_true=y_true, ch_pos=pos, trial=trial,
              attrs={"method": "simulated", "sfreq": 5.0})
    shape = (n, truth.sizes["channel"], truth.sizes["time"])
    rel = neurolrp.make_relevance(rng.normal(size=shape), target=y_pred,
                                  score=np.linspace(1, 2, n), **kw)
    oth = neurolrp.make_relevance(rng.normal(size=shape), target=other,
                                  score=np.linspace(-1, 0, n), **kw)
    return rel, oth


def _titles(fig):
    return [ax.get_title() for ax in fig.axes] + [t.get_text() for t in fig.texts]


# ------------------------------------------------------------- single-trial figures


def test_plot_trial_rows_and_labels():
    rel, oth = _rel()
    fig = viz.plot_trial(rel, 1, other=oth, window=1.0, tmin=0.0, tmax=4.0)
    topo = [ax for ax in fig.axes if ax.get_title().endswith(" s")]
    assert len(topo) == 4  # titles on the first row of 4 windows
    labels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel().startswith("for ")]
    assert labels == ["for left\n(predicted)", "for right\n(true class)"]
    assert "trial 1: true right, predicted left (misclassified)" in fig._suptitle.get_text()
    # 2 rows x 4 maps, one colour bar, the channel x time map and its colour bar
    assert len(fig.axes) == 8 + 1 + 2
    # the two rows share one symmetric scale
    clims = {im.get_clim() for ax in fig.axes[:8] for im in ax.images}
    assert len(clims) == 1 and clims.pop()[0] < 0
    plt.close(fig)
    fig = viz.plot_trial(rel, 0, window=1.0, tmin=0.0, tmax=4.0)
    assert len(fig.axes) == 4 + 1 + 2
    assert "misclassified" not in fig._suptitle.get_text()
    plt.close(fig)


def test_plot_trial_bad_trial():
    rel, oth = _rel()
    with pytest.raises(ValueError, match="No trial 99"):
        viz.plot_trial(rel, 99)
    with pytest.raises(ValueError, match="No trial 3"):
        viz.plot_trial(rel, 3, other=oth.isel(trial=[0, 1]))


def test_plot_trial_names_the_users_trial_numbers():
    rel, oth = _rel(trial=np.arange(100, 108))
    fig = viz.plot_trial(rel, 104, other=oth)
    assert fig._suptitle.get_text().startswith("trial 104:")
    plt.close(fig)
    with pytest.raises(ValueError, match="No trial 4"):
        viz.plot_trial(rel, 4)


def test_plot_misclassified_saw_and_missed():
    rel, oth = _rel()
    fig = viz.plot_misclassified(rel, oth, trials=[4, 1], proba={1: 0.8, 4: 0.6})
    titles = _titles(fig)
    assert titles.count("saw: left\n(predicted)") == 1  # trial 1 is right, seen as left
    assert titles.count("missed: right\n(true)") == 1
    assert "saw: right\n(predicted)" in titles and "missed: left\n(true)" in titles
    assert titles.index("trial 4: true left, p=0.60") < titles.index("trial 1: true right, p=0.80")
    assert len([ax for ax in fig.axes if ax.images]) == 4  # 2 trials x 2 maps
    assert len(fig.axes) == 4 + 1  # and one colour bar
    plt.close(fig)
    # correct trials: chosen class vs runner-up
    fig = viz.plot_misclassified(rel, oth, trials=[0])
    assert "for left\n(chosen)" in _titles(fig) and "for right\n(runner-up)" in _titles(fig)
    plt.close(fig)


def test_plot_misclassified_errors():
    rel, oth = _rel()
    with pytest.raises(ValueError, match="No trials to show"):
        viz.plot_misclassified(rel, oth, trials=[])
    with pytest.raises(ValueError, match="No trial 42"):
        viz.plot_misclassified(rel, oth, trials=[42])
    unlabeled = rel.drop_vars(["y_true", "correct"])
    with pytest.raises(ValueError, match="no labels"):
        viz.plot_misclassified(unlabeled, oth)


def test_plot_trial_consistency():
    from neurolrp.evaluation import trial_consistency

    rel, _ = _rel(n=12)
    table = trial_consistency(rel)
    fig = viz.plot_trial_consistency(table)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["for left", "for right"]
    assert set(ax.get_legend_handles_labels()[1]) == {"correct", "misclassified"}
    n_points = sum(len(line.get_xdata()) for line in ax.lines if line.get_marker() == "o")
    assert n_points == 12
    plt.close(fig)
    with pytest.raises(ValueError, match="empty"):
        viz.plot_trial_consistency(table.iloc[:0])


# ------------------------------------------------------------ the report's parts


def test_error_trials_misclassified_first_else_least_confident():
    rel, _ = _rel(wrong=(1, 4))
    trials, wrong = report.error_trials(rel, proba={1: 0.6, 4: 0.9})
    assert wrong and trials == [4, 1]  # most confident error first
    rel, _ = _rel(wrong=())
    proba = {k: 0.5 + 0.05 * k for k in range(8)}
    trials, wrong = report.error_trials(rel, proba=proba, n_fallback=3)
    assert not wrong and trials == [0, 1, 2]


def _report_html(tmp_path, rep):
    path = tmp_path / "r.html"
    rep.save(path, open_browser=False, overwrite=True, verbose=False)
    return path.read_text()


@pytest.mark.parametrize("wrong", [(1, 4), ()])
def test_errors_section_labels(tmp_path, wrong):
    rel, oth = _rel(wrong=wrong)
    proba = {k: 0.5 + 0.05 * k for k in range(8)}
    rep = mne.Report(title="t", verbose=False)
    report._add_errors(rep, rel, oth, proba, 100)
    html = _report_html(tmp_path, rep)
    if wrong:
        assert "Misclassified trials: what it saw, what it missed" in html
        assert "2 trial(s) misclassified out of fold" in html
        assert "none misclassified" not in html
    else:
        assert "Least confident correct trials (none misclassified)" in html
        assert "No trial was misclassified out of fold" in html
        assert "the 6 least confident correct trials" in html


@pytest.mark.parametrize("max_trials,said", [
    (100, "the first 18 here, all on the slider below."),
    (10, "the first 18 here, the first 10 on the slider below, all in relevance.nc."),
    (0, "the first 18 here, all in relevance.nc.")])
def test_errors_section_says_where_the_other_errors_are(tmp_path, max_trials, said):
    rel, oth = _rel(wrong=tuple(range(20)), n=24)
    rep = mne.Report(title="t", verbose=False)
    report._add_errors(rep, rel, oth, {k: 0.6 for k in range(24)}, max_trials)
    assert "20 trial(s) misclassified out of fold, most confident error first; " + said \
        in _report_html(tmp_path, rep)


def test_slider_has_every_trial_misclassified_first(tmp_path):
    rel, oth = _rel(wrong=(5, 2))
    proba = {k: 0.7 for k in range(8)}
    rep = mne.Report(title="t", verbose=False)
    report._add_slider(rep, rel, oth, proba, max_trials=100)
    html = _report_html(tmp_path, rep)
    assert 'type="range" class="form-range" min="0" max="7"' in html
    assert html.count('class="carousel-item') == 8
    assert html.count("data:image/webp;base64,") == 8
    first = html.index("Trial 2: true left, predicted right (p = 0.70) - misclassified.")
    assert first < html.index("Trial 5: true right") < html.index("Trial 0: true left")
    assert "All 8 trials, the 2 misclassified first" in html
    # at most max_trials, said so
    rep = mne.Report(title="t", verbose=False)
    report._add_slider(rep, rel, oth, proba, max_trials=3)
    html = _report_html(tmp_path, rep)
    assert html.count('class="carousel-item') == 3 and "3 of 8 trials" in html
    # nothing misclassified: all in order, said so
    rel, oth = _rel(wrong=())
    rep = mne.Report(title="t", verbose=False)
    report._add_slider(rep, rel, oth, proba, max_trials=100)
    html = _report_html(tmp_path, rep)
    assert "All 8 trials, in order (none misclassified)." in html
    assert html.index("Trial 0: true left") < html.index("Trial 1: true right")


def _cv(acc_by_model, n=40, classes=CLASSES):
    """A CVResult with the given out-of-fold accuracies (balanced classes)."""
    rows, scores = [], []
    y = np.array([classes[k % 2] for k in range(n)])
    for m, acc in acc_by_model.items():
        k_right = int(round(acc * n))
        pred = np.where(np.arange(n) < k_right, y, [classes[1 - classes.index(c)] for c in y])
        for t in range(n):
            rows.append({"model": m, "trial": t, "fold": 0, "y_true": y[t], "y_pred": pred[t],
                         "correct": y[t] == pred[t]})
        scores.append({"model": m, "fold": 0, "accuracy": k_right / n})
    return CVResult(scores=pd.DataFrame(scores), predictions=pd.DataFrame(rows),
                    estimators={m: [] for m in acc_by_model}, folds=[], classes=np.array(classes))


def test_chance_test_and_best_network():
    cv = _cv({"eegnet": 0.5, "shallow": 0.8, "csp+lda": 0.9, "sturm": 0.8})
    table = chance_test(cv).set_index("model")
    assert table.loc["eegnet", "within_chance"] and table.loc["eegnet", "p_value"] > 0.4
    assert not table.loc["shallow", "within_chance"] and table.loc["shallow", "p_value"] < 1e-3
    assert table.loc["shallow", "chance"] == 0.5 and table.loc["shallow", "n_correct"] == 32
    # csp+lda is best but cannot be explained; ties go to the first listed network
    assert best_network(cv) == "shallow"
    assert best_network(_cv({"eegnet": 0.7, "shallow": 0.6})) == "eegnet"
    # 26 of 40 right: p = 0.04; 25 of 40: p = 0.08
    t = chance_test(_cv({"shallow": 26 / 40, "eegnet": 25 / 40})).set_index("model")
    assert not t.loc["shallow", "within_chance"] and t.loc["eegnet", "within_chance"]
    with pytest.raises(TypeError, match="cross_validate"):
        chance_test("not a result")
    with pytest.raises(ValueError, match="alpha"):
        chance_test(cv, alpha=5)
    with pytest.raises(ValueError, match="no network"):
        best_network(_cv({"csp+lda": 0.9}))


def test_conservation_in_plain_words():
    text = report.conservation_sentence(4e-6)
    assert text.startswith("Relevance adds up to the network's score within 4e-06")
    assert "biases' share is counted" in text and "e+" not in text
    assert "does NOT add up" in report.conservation_sentence(0.2)
    assert "biases" in report.conservation_sentence(4e-6, 6.75)


# ---------------------------------------------- the whole report on real errors (slow)


@pytest.mark.slow
def test_report_on_left_right_explains_real_errors(tmp_path):
    from neurolrp.datasets import load_eegbci

    ep = load_eegbci(1, "imagery/left-right", resample=80, verbose=False).crop(0.0, 3.0)
    summary = report.subject_report(
        ep, tmp_path, models=("sturm", "shallow"), n_splits=3, quality=False, max_trials=4,
        classifier_params={"max_epochs": 3, "patience": 3}, verbose=False)
    html = (tmp_path / "report.html").read_text()
    for section in report.SECTIONS:
        if section != "Explanation quality":
            assert section in html, section
    # the best of the two networks was explained, and the chance test is everywhere
    accs = {m: summary["accuracy"][m]["mean"] for m in ("sturm", "shallow")}
    assert summary["explained_model"] == max(accs, key=accs.get)
    assert summary["explained_model_choice"] == "the best cross-validated network"
    rel = neurolrp.load_relevance(tmp_path / "relevance.nc")
    assert rel.attrs["within_chance"] in (0, 1) and 0 <= rel.attrs["binomial_p"] <= 1
    assert bool(rel.attrs["within_chance"]) == summary["explained_model_within_chance"]
    assert "binomial p" in html
    if summary["explained_model_within_chance"]:
        assert "is within chance</b>" in html
        assert html.index("is within chance") < html.index("Class average:")
    # real misclassified trials, each for the predicted and the true class
    assert summary["n_misclassified"] > 0
    assert "Misclassified trials: what it saw, what it missed" in html
    # the slider: 4 of 45 trials (their order: test_slider_has_every_trial_misclassified_first)
    assert html.count('class="carousel-item') >= 4
    assert "4 of 45 trials" in html
    assert "adds up to the network" in html
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["accuracy"]["csp+lda"].keys() >= {"binomial_p", "within_chance"}


def test_report_matches_predictions_by_trial_id_not_position():
    # the epochs' own trial numbers, and predictions in another order
    ids = np.array([12, 3, 40, 7, 25, 9, 31, 18])
    rel, _ = _rel(wrong=(1,), trial=ids)
    rows = []
    for k in np.random.default_rng(1).permutation(len(ids)):
        r = rel.isel(trial=k)
        p_left = 0.8 if str(r.y_pred.item()) == "left" else 0.3
        rows.append({"model": "shallow", "trial": int(ids[k]), "fold": 0,
                     "y_true": str(r.y_true.item()), "y_pred": str(r.y_pred.item()),
                     "correct": bool(r.correct.item()), "proba_left": p_left,
                     "proba_right": 1 - p_left})
    cv = CVResult(scores=pd.DataFrame([{"model": "shallow", "fold": 0, "accuracy": 7 / 8}]),
                  predictions=pd.DataFrame(rows), estimators={"shallow": []}, folds=[],
                  classes=np.array(CLASSES))
    proba = report._proba_of_prediction(cv, "shallow", rel)
    assert proba == {int(t): (0.8 if p == "left" else 0.7)
                     for t, p in zip(ids, map(str, rel.y_pred.values))}
    per_class = {c: rel.assign_coords(target=("trial", [c] * len(ids))) for c in CLASSES}
    other = report._other_class(rel, per_class, cv, "shallow")
    assert list(other.trial.values) == list(ids)
    for t in ids:
        r = rel.sel(trial=t)
        want = str(r.y_true.item()) if not bool(r.correct.item()) else \
            ("right" if str(r.y_pred.item()) == "left" else "left")
        assert str(other.sel(trial=t).target.item()) == want


@pytest.mark.parametrize("max_trials", [0, 5])
def test_report_slider_can_be_left_out(tmp_path, max_trials):
    from test_atomic_writes import _tiny_epochs

    report.subject_report(_tiny_epochs(), tmp_path / "r", models=("sturm",), n_splits=2,
                          quality=False, max_trials=max_trials, verbose=False,
                          classifier_params={"max_epochs": 1, "model_params": {"hidden": 4}})
    html = (tmp_path / "r" / "report.html").read_text()
    assert ("How to read the trial slider" in html) == (max_trials > 0)
    assert ("Every trial (5)" in html) == (max_trials > 0)
    assert neurolrp.load_relevance(tmp_path / "r" / "relevance.nc").sizes["trial"] == 12

"""Per-subject cross-validation of the networks beside the classical baselines.

Baselines: CSP + LDA (band power; motor imagery) and shrinkage LDA on
window-averaged samples (the waveform; ERPs and slow potentials).
"""

import time
from dataclasses import dataclass, field

import mne
import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold

from ._checks import check_bool, check_int
from ._trials import check_data, epoch_ids, pick_eeg
from ._utils import logger, progress_prefix, verbose
from ._baselines import TimeWindowMeans, make_csp_lda, make_slda
from .classifier import MODEL_CHOICES, EEGClassifier
from .datasets import epochs_to_arrays

BASELINE = "csp+lda"  # the default baseline of cross_validate

#: Baseline name -> function returning an unfitted scikit-learn pipeline.
BASELINES = {"csp+lda": make_csp_lda, "slda": make_slda}


@dataclass
class CVResult:
    """What :func:`cross_validate` returns.

    Attributes
    ----------
    scores : pandas.DataFrame
        One row per model and fold: ``model``, ``fold``, ``accuracy``,
        ``fit_seconds``, ``n_train``, ``n_test`` and ``network`` (the network
        trained: the model itself, or what ``"auto"`` chose in that fold).
    predictions : pandas.DataFrame
        One row per model and trial (out-of-fold): ``model``, ``trial``,
        ``fold``, ``y_true``, ``y_pred``, ``correct`` and ``proba_<class>``.
        ``trial`` is the epochs' own index (``epochs.selection``, as in the
        relevance of :func:`~neurolrp.explain`); each model's rows are in
        the epochs' order.
    estimators : dict
        Model name -> list of the fitted estimators, one per fold.
    folds : list of (ndarray, ndarray)
        Train and test trials of every fold, as positions in the epochs
        (``epochs[test]``).
    classes : ndarray
        Class names.
    """

    scores: pd.DataFrame
    predictions: pd.DataFrame
    estimators: dict = field(repr=False)
    folds: list = field(repr=False)
    classes: np.ndarray = field(default=None)

    def summary(self):
        """Mean and standard deviation of accuracy per model."""
        return (self.scores.groupby("model", sort=False)["accuracy"]
                .agg(["mean", "std"]).rename(columns={"mean": "accuracy", "std": "sd"}))


@verbose
def cross_validate(epochs, models=("shallow",), *, n_splits=5, baseline=True, seed=0,
                   classifier_params=None, verbose=None, baselines=None):
    """Stratified k-fold CV of networks and classical baselines on the same folds.

    Parameters
    ----------
    epochs : mne.Epochs
        One subject's trials; classes are the event names. Only the good EEG
        channels are used (non-EEG and bad channels are dropped, and the
        log says which), by the networks and the baseline alike.
    models : sequence of str
        Networks to evaluate (``"shallow"``, ``"eegnet"``, ``"sturm"``, or
        ``"auto"``: each fold picks its network by an inner cross-validation
        on that fold's training trials; see :class:`~neurolrp.EEGClassifier`).
    n_splits : int
        Folds of the stratified k-fold split (shuffled with ``seed``).
    baseline : bool
        Also evaluate CSP (4 components, log-variance) + LDA; ignored when
        ``baselines`` is given (then it must be left True).
    seed : int
        Seed of the split and of every network.
    classifier_params : dict | None
        Extra :class:`~neurolrp.EEGClassifier` parameters for every network.
    %(verbose)s
        At ``"info"``: one line per model and fold (accuracy and time), and
        while a network trains a progress bar (``shallow fold 2/5 |
        Training shallow``) of its epochs in a terminal or notebook; outside
        them (a log file, CI) bars are left out unless ``verbose="debug"`` or
        ``NEUROLRP_PROGRESS=1`` (see :func:`neurolrp._utils.progress_mode`).
    baselines : sequence of str | None
        Classical baselines to evaluate on the same folds: ``"csp+lda"``
        (:func:`make_csp_lda`, band power) and/or ``"slda"``
        (:func:`make_slda`, shrinkage LDA on window-averaged samples, the
        ERP baseline). ``None``: ``("csp+lda",)`` if ``baseline`` else
        none; ``()`` for none.

    Returns
    -------
    result : CVResult
        Accuracy per model and fold, out-of-fold predictions and
        probabilities of every trial, the fitted estimators and the folds.

    Raises
    ------
    TypeError
        If ``epochs`` is not ``mne.Epochs``, or an argument has the wrong
        type.
    ValueError
        If a model or baseline is unknown or named twice, there is nothing
        to evaluate, ``baselines`` is given with ``baseline=False``, a class
        has fewer trials than folds, ``n_splits < 2``, ``classifier_params``
        are bad, or the data are not finite: all before any training.
    """
    if not isinstance(epochs, mne.BaseEpochs):
        raise TypeError(f"epochs must be mne.Epochs, got {type(epochs).__name__}.")
    if isinstance(models, str):
        models = (models,)
    if not isinstance(models, (list, tuple)) or not all(isinstance(m, str) for m in models):
        raise TypeError(f"models must be a list of network names, got {models!r}.")
    unknown = [m for m in models if m not in MODEL_CHOICES]
    if unknown:
        raise ValueError(f"Unknown model(s) {unknown}; choose from {list(MODEL_CHOICES)}.")
    if len(set(models)) != len(models):
        raise ValueError(f"models lists a network twice: {list(models)}.")
    n_splits = check_int(n_splits, "n_splits", low=2)
    seed = check_int(seed, "seed", low=0)
    baseline = check_bool(baseline, "baseline")
    if classifier_params is not None:
        if not isinstance(classifier_params, dict):
            raise TypeError("classifier_params must be a dict or None, got "
                            f"{type(classifier_params).__name__}.")
        fixed = sorted(set(classifier_params) & {"model", "seed", "verbose"})
        if fixed:
            raise ValueError(f"classifier_params cannot set {fixed}: cross_validate sets the "
                             "model, seed and verbosity itself.")
        # every network's parameters are checked now, not in the first fold
        for name in models:
            EEGClassifier(name, seed=seed, verbose=False, **classifier_params).validate_params()
    epochs = pick_eeg(epochs)  # once: every model and the baseline see the same channels
    X, y, sfreq = epochs_to_arrays(epochs)
    check_data(X, "The epochs' data", cast=False)
    ids = epoch_ids(epochs, len(X))  # trials keep the numbers the user knows
    classes, counts = np.unique(y, return_counts=True)
    if counts.min() < n_splits:
        raise ValueError(
            f"{n_splits}-fold CV needs at least {n_splits} trials per class; got "
            f"{dict(zip(classes, counts))}. Use fewer folds."
        )
    if baselines is None:
        baselines = (BASELINE,) if baseline else ()
    elif not baseline:
        raise ValueError("baseline=False contradicts baselines=...; pass baselines=() for none.")
    if isinstance(baselines, str):
        baselines = (baselines,)
    unknown = [b for b in baselines if b not in BASELINES]
    if unknown:
        raise ValueError(f"Unknown baseline(s) {unknown}; choose from {sorted(BASELINES)}.")
    names = list(models) + list(baselines)
    if not names:
        raise ValueError("Nothing to evaluate: models and baselines are both empty.")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"Model(s) named more than once: {twice}.")
    folds = list(StratifiedKFold(n_splits, shuffle=True, random_state=seed).split(X, y))
    rows, preds, estimators = [], [], {}
    for name in names:
        if name in BASELINES:
            template = BASELINES[name]()
            data = X.astype(np.float64)
        else:
            # the network's own bar (epochs) shows where a terminal or notebook shows it
            template = EEGClassifier(name, seed=seed, verbose=verbose,
                                     **(classifier_params or {}))
            data = epochs
        estimators[name] = []
        for k, (train, test) in enumerate(folds):
            t0 = time.perf_counter()
            est = clone(template)
            with mne.utils.use_log_level("WARNING"), \
                    progress_prefix(f"{name} fold {k + 1}/{n_splits}"):  # CSP logs a lot
                est.fit(data[train], y[train])
                proba, pred = est.predict_proba(data[test]), est.predict(data[test])
            fit_s = time.perf_counter() - t0
            acc = float(np.mean(pred == y[test]))
            rows.append({"model": name, "fold": k, "accuracy": acc, "fit_seconds": fit_s,
                         "n_train": len(train), "n_test": len(test),
                         # what model="auto" chose in this fold, on its training trials only
                         "network": getattr(est, "model_", name)})
            for i, trial in enumerate(test):
                row = {"model": name, "trial": int(ids[trial]), "_position": int(trial),
                       "fold": k, "y_true": y[trial],
                       "y_pred": pred[i], "correct": bool(pred[i] == y[trial])}
                row.update({f"proba_{c}": float(p) for c, p in zip(est.classes_, proba[i])})
                preds.append(row)
            estimators[name].append(est)
            logger.info(f"  {name:8s} fold {k + 1}/{n_splits}: accuracy {acc:.3f} "
                        f"({fit_s:.1f} s)")
    # in the epochs' order, which the epochs' own indices need not follow
    predictions = pd.DataFrame(preds).sort_values(["model", "_position"], kind="stable")
    predictions = predictions.drop(columns="_position")
    return CVResult(pd.DataFrame(rows), predictions.reset_index(drop=True), estimators, folds,
                    classes)


def chance_test(cv_result, alpha=0.05):
    """Is each cross-validated model better than chance? A binomial test per model.

    The out-of-fold predictions of a model are ``n`` trials of which ``k``
    are correct; under chance every trial is right with the probability of
    always guessing the most frequent class (``1 / n_classes`` for balanced
    classes). :func:`scipy.stats.binomtest` (one-sided, greater) gives the
    probability of ``k`` or more correct trials by chance; a model with
    ``p >= alpha`` is *within chance*: its explanations may show nothing the
    network learned.

    Parameters
    ----------
    cv_result : CVResult
        From :func:`cross_validate`.
    alpha : float
        Significance level.

    Returns
    -------
    table : pandas.DataFrame
        One row per model, in the order of ``cv_result.summary()``:
        ``model``, ``accuracy`` (mean over folds), ``n_trials``,
        ``n_correct``, ``chance`` (the guessing rate), ``p_value``,
        ``within_chance`` (bool).
    """
    from scipy.stats import binomtest

    if not isinstance(cv_result, CVResult):
        raise TypeError(f"cv_result must be what neurolrp.cross_validate returns, got "
                        f"{type(cv_result).__name__}.")
    if not (isinstance(alpha, float) and 0 < alpha < 1):
        raise ValueError(f"alpha must be a float between 0 and 1, got {alpha!r}.")
    summ = cv_result.summary()
    rows = []
    for model in summ.index:
        p = cv_result.predictions[cv_result.predictions.model == model]
        n = len(p)
        k = int(np.asarray(p.correct, bool).sum())
        chance = float(p.y_true.astype(str).value_counts(normalize=True).max())
        pval = float(binomtest(k, n, chance, alternative="greater").pvalue)
        rows.append({"model": model, "accuracy": float(summ.loc[model, "accuracy"]),
                     "n_trials": n, "n_correct": k, "chance": chance, "p_value": pval,
                     "within_chance": pval >= alpha})
    return pd.DataFrame(rows)


def best_network(cv_result):
    """The cross-validated network with the highest mean accuracy.

    Only networks count (a classical baseline such as ``"csp+lda"`` cannot
    be explained with LRP); ties go to the one listed first.

    Parameters
    ----------
    cv_result : CVResult
        From :func:`cross_validate`.

    Returns
    -------
    model : str
        Its name, a key of ``cv_result.estimators``.
    """
    if not isinstance(cv_result, CVResult):
        raise TypeError(f"cv_result must be what neurolrp.cross_validate returns, got "
                        f"{type(cv_result).__name__}.")
    summ = cv_result.summary()
    nets = [m for m in summ.index if m not in BASELINES]
    if not nets:
        raise ValueError("The cross-validation holds no network to explain (only "
                         f"{list(summ.index)}).")
    return max(nets, key=lambda m: (float(summ.loc[m, "accuracy"]), -nets.index(m)))


# ------------------------------------------------------------------ the linear anchor
#: What :func:`linear_relevance` computes.
LINEAR_METHODS = ("w*x", "pattern")


def _window_lda(estimator):
    """(TimeWindowMeans, linear classifier) of a fitted :func:`make_slda` pipeline."""
    from sklearn.exceptions import NotFittedError
    from sklearn.pipeline import Pipeline

    steps = estimator.steps if isinstance(estimator, Pipeline) else None
    if (steps is None or len(steps) != 2 or not isinstance(steps[0][1], TimeWindowMeans)
            or not hasattr(type(steps[1][1]), "decision_function")):
        raise TypeError("estimator must be a make_slda() pipeline (TimeWindowMeans then a "
                        "linear classifier), e.g. from cross_validate(..., "
                        f"baselines=('slda',)).estimators['slda']; got {type(estimator).__name__}.")
    windows, clf = steps[0][1], steps[1][1]
    if not hasattr(windows, "n_times_") or not hasattr(clf, "coef_"):
        raise NotFittedError("The make_slda() pipeline is not fitted; call fit(X, y) first.")
    return windows, clf


def linear_weights(estimator):
    """The weights of a shrinkage-LDA pipeline on the samples, one map per class.

    The pipeline's decision is linear in the samples: the window means are
    ``f = M x`` and the score of class ``k`` is ``w_k . f + b_k``, so it is
    ``sum_(c, t) W_k[c, t] x[c, t] + b_k`` with ``W_k[c, t] = w_k[c, window(t)] /
    len(window(t))``. With two classes LDA has one discriminant ``d`` (its
    ``decision_function``, positive for ``classes_[1]``); the second class's
    score is ``d`` and the first's ``-d``.

    Parameters
    ----------
    estimator : sklearn.pipeline.Pipeline
        A fitted :func:`make_slda` pipeline (any linear classifier with
        ``coef_`` and ``intercept_`` after :class:`TimeWindowMeans` works).

    Returns
    -------
    weights : ndarray, shape (n_classes, n_channels, n_times)
        ``W_k``, in the order of ``estimator.classes_``. These are a filter,
        not a map of the signal (Haufe et al. 2014): see
        :func:`slda_pattern`.
    intercepts : ndarray, shape (n_classes,)

    Raises
    ------
    TypeError
        ``estimator`` is not a make_slda() pipeline.
    sklearn.exceptions.NotFittedError
        It is not fitted.
    """
    windows, clf = _window_lda(estimator)
    coef = np.asarray(clf.coef_, dtype=np.float64)
    intercept = np.asarray(clf.intercept_, dtype=np.float64)
    if coef.shape[0] == 1:  # two classes, one discriminant for classes_[1]
        coef, intercept = np.vstack([-coef, coef]), np.concatenate([-intercept, intercept])
    n_ch, n_t = windows.n_channels_, windows.n_times_
    split = np.array_split(np.arange(n_t), windows.n_windows)
    coef = coef.reshape(len(coef), n_ch, windows.n_windows)  # channel-major, as transform
    weights = np.empty((len(coef), n_ch, n_t))
    for k, idx in enumerate(split):
        weights[:, :, idx] = coef[:, :, k:k + 1] / len(idx)
    return weights, intercept


def _linear_data(data, what, windows, y=None):
    """Samples, labels and geometry of ``data`` for a linear pipeline fitted on ``windows``."""
    from ._trials import read_trials
    from .relevance import channel_positions

    trials = read_trials(data, y, what=what, epochs_what=what, cast=False)
    X = np.asarray(trials.data, dtype=np.float64)
    if X.shape[1:] != (windows.n_channels_, windows.n_times_):
        raise ValueError(f"{what} have {X.shape[1]} channels x {X.shape[2]} samples; the "
                         f"estimator was fitted on {windows.n_channels_} x {windows.n_times_}.")
    if trials.epochs is None:
        return X, trials.y, [str(i) for i in range(X.shape[1])], None, None, None, None
    ep = trials.epochs
    return (X, trials.y, trials.ch_names, channel_positions(ep.info), ep.times.copy(),
            trials.sfreq, epoch_ids(ep, len(X)))


def slda_pattern(estimator, X):
    """The activation pattern of a shrinkage-LDA pipeline (Haufe et al. 2014), on the samples.

    For a linear decoder ``s = W^T x`` the weights are a filter: they are
    large wherever the decoder subtracts noise, not only where the signal
    is. The activation pattern ``A = Cov(x) W (W^T Cov(x) W)^-1`` is the
    map of the signal the decoder reads (Haufe et al. 2014, NeuroImage
    87:96-110). Here each class's score gets its own pattern,
    ``a_k = Cov(x, s_k) / Var(s_k)`` over the trials ``X`` (the training
    data), computed on the samples (channels x times), so ``W_k . a_k = 1``.
    Its mean over each time window is the pattern of the LDA on its window
    means, ``Cov(f) w (w^T Cov(f) w)^-1``, since the means are linear in
    the samples.

    Parameters
    ----------
    estimator : sklearn.pipeline.Pipeline
        A fitted :func:`make_slda` pipeline.
    X : mne.Epochs | array, shape (n_trials, n_channels, n_times)
        The data it was fitted on (the covariance the pattern needs).

    Returns
    -------
    pattern : ndarray, shape (n_classes, n_channels, n_times)
        In the order of ``estimator.classes_``. With two classes the
        patterns of the two scores are opposite (``a_0 = -a_1``). A class
        whose score does not vary over ``X`` gets zeros.

    Raises
    ------
    TypeError
        ``estimator`` is not a make_slda() pipeline.
    sklearn.exceptions.NotFittedError
        It is not fitted.
    ValueError
        ``X`` does not have the fitted shape, holds fewer than two trials or
        values that are not finite.
    """
    windows, _ = _window_lda(estimator)
    X = _linear_data(X, "X", windows)[0]
    if len(X) < 2:
        raise ValueError(f"The pattern needs the covariance of at least two trials; got "
                         f"{len(X)}.")
    weights, _ = linear_weights(estimator)
    flat = X.reshape(len(X), -1)
    centred = flat - flat.mean(axis=0)
    scores = centred @ weights.reshape(len(weights), -1).T  # (n_trials, n_classes)
    cov = centred.T @ scores / len(X)  # Cov(x, s_k), one column per class
    var = (scores ** 2).mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        pattern = np.where(var > 1e-12 * max(var.max(), 1e-300), cov / var, 0.0)
    return pattern.T.reshape(weights.shape)


def linear_relevance(estimator, data, method="w*x", *, X_train=None, target="predicted",
                     y=None):
    """The linear anchor: per-trial relevance of a shrinkage-LDA decoder.

    What a deep network's explanation should be at least as good as on
    event-related potentials: the linear decoder that BCI research uses
    (:func:`make_slda`), explained the two ways the linear case allows. The
    result has the coordinates of :func:`neurolrp.explain`'s, so
    :func:`neurolrp.evaluation.localization` and the plots take it
    unchanged.

    Parameters
    ----------
    estimator : sklearn.pipeline.Pipeline
        A fitted :func:`make_slda` pipeline.
    data : mne.Epochs | array, shape (n_trials, n_channels, n_times)
        Trials to explain, in the units the pipeline was fitted on (for
        :func:`cross_validate`: the epochs' data in volts).
    method : "w*x" | "pattern"
        ``"w*x"``: ``R[c, t] = W_k[c, t] x[c, t]`` (:func:`linear_weights`),
        the decision's exact additive split: ``sum R = score - b_k``
        (``conservation`` is the intercept's share). It follows the filter,
        so it can be large where the decoder cancels noise. ``"pattern"``:
        ``R = a_k * score``, the activation pattern of the target's score
        (:func:`slda_pattern`) scaled by the trial's score (the signal
        estimate of PatternNet, Kindermans et al. 2018): one map of where
        the decoded signal is, the same for every trial up to its score; its
        sign is the potential's polarity times the evidence, not evidence
        alone. Needs ``X_train``.
    X_train : mne.Epochs | array | None
        The data the pipeline was fitted on; required for ``"pattern"``.
    target : "predicted" | "true" | str
        The explained class: the predicted one, the true one (labels
        needed) or a class name.
    y : array | None
        Labels of ``data`` (default: the epochs' event names).

    Returns
    -------
    relevance : xarray.DataArray
        Dims ``("trial", "channel", "time")``, float32, with ``y_pred``,
        ``target``, ``score`` (the target's decision score) and, when
        labels are known, ``y_true`` and ``correct``; attrs ``method``
        (``"slda:w*x"`` or ``"slda:pattern"``), ``model`` and ``sfreq``.

    Raises
    ------
    TypeError
        ``estimator`` is not a make_slda() pipeline.
    sklearn.exceptions.NotFittedError
        It is not fitted.
    ValueError
        Unknown method or target, ``"pattern"`` without ``X_train``,
        ``target="true"`` without labels, or data unlike those at fit.
    """
    from .relevance import make_relevance

    windows, clf = _window_lda(estimator)
    if method not in LINEAR_METHODS:
        raise ValueError(f"method must be one of {LINEAR_METHODS}, got {method!r}.")
    if method == "pattern" and X_train is None:
        raise ValueError("method='pattern' needs X_train, the data the estimator was fitted on "
                         "(the pattern is a covariance of the training data).")
    classes = [str(c) for c in clf.classes_]
    if not (target in ("predicted", "true") or (isinstance(target, str) and target in classes)):
        raise ValueError(f"target must be 'predicted', 'true' or a class name {classes}, got "
                         f"{target!r}.")
    X, labels, ch_names, ch_pos, times, sfreq, ids = _linear_data(data, "data", windows, y)
    if labels is not None:
        labels = np.asarray([str(v) for v in labels], dtype=object)
        unknown = sorted(set(labels) - set(classes))
        if unknown:
            raise ValueError(f"Labels {unknown} are not classes of the estimator {classes}.")
    if target == "true" and labels is None:
        raise ValueError("target='true' needs labels: give y or epochs with event names.")
    weights, intercept = linear_weights(estimator)
    if method == "pattern":
        pattern = slda_pattern(estimator, X_train)
    flat = X.reshape(len(X), -1)
    scores = flat @ weights.reshape(len(weights), -1).T + intercept  # (n_trials, n_classes)
    pred = scores.argmax(axis=1)
    if target == "predicted":
        k = pred
    elif target == "true":
        k = np.array([classes.index(v) for v in labels])
    else:
        k = np.full(len(X), classes.index(target))
    score = scores[np.arange(len(X)), k]
    if method == "w*x":
        values = weights[k] * X
        conservation = np.abs(values.sum(axis=(1, 2)) - score) / np.maximum(np.abs(score), 1e-12)
    else:
        values = pattern[k] * score[:, None, None]
        conservation = None
    if times is None:
        times = np.arange(X.shape[2], dtype=float)
    attrs = {"method": f"slda:{method}", "target": str(target), "classes": classes,
             "model": "slda", "sfreq": float(sfreq) if sfreq else float("nan"),
             "conservation_error": float(conservation.max()) if conservation is not None
             else float("nan")}
    return make_relevance(values, channels=ch_names, times=times,
                          y_pred=np.asarray([classes[i] for i in pred], dtype=object),
                          target=np.asarray([classes[i] for i in k], dtype=object), score=score,
                          y_true=labels, ch_pos=ch_pos, trial=ids, conservation=conservation,
                          attrs=attrs)


def linear_relevance_out_of_fold(cv_result, epochs, method="w*x", model="slda", **kwargs):
    """:func:`linear_relevance` of every trial by the fold's pipeline that did not fit it.

    As :func:`neurolrp.attribution.explain_out_of_fold` for the networks, so
    the deep and the linear explanations of the same trials sit side by side.

    Parameters
    ----------
    cv_result : CVResult
        From :func:`cross_validate` on ``epochs`` with ``baselines`` holding
        ``"slda"``.
    epochs : mne.Epochs
        The same epochs.
    method : "w*x" | "pattern"
        See :func:`linear_relevance`; the pattern of each fold is measured on
        that fold's training trials.
    model : str
        The baseline to explain (a key of ``cv_result.estimators``).
    **kwargs
        Passed to :func:`linear_relevance` (``target``).

    Returns
    -------
    relevance : xarray.DataArray
        All trials, in the order of ``epochs``, numbered as
        ``cv_result.predictions``; ``attrs["out_of_fold"]`` is the number of
        folds.

    Raises
    ------
    TypeError
        ``cv_result`` is not a CVResult.
    ValueError
        No such baseline, or ``epochs`` are not the cross-validated ones.
    """
    import xarray as xr

    if not isinstance(cv_result, CVResult):
        raise TypeError(f"cv_result must be what neurolrp.cross_validate returns, got "
                        f"{type(cv_result).__name__}.")
    if model not in cv_result.estimators:
        raise ValueError(f"No cross-validated {model!r}; have {list(cv_result.estimators)} "
                         "(run cross_validate with baselines=('slda', ...)).")
    epochs = pick_eeg(epochs, "epochs")
    n_cv = sum(len(test) for _, test in cv_result.folds)
    if len(epochs) != n_cv:
        raise ValueError(f"epochs must be the {n_cv} epochs that were cross-validated; got "
                         f"{len(epochs)}.")
    ids = epoch_ids(epochs, len(epochs))
    parts, positions = [], []
    for est, (train, test) in zip(cv_result.estimators[model], cv_result.folds):
        rel = linear_relevance(est, epochs[test], method,
                               X_train=epochs[train] if method == "pattern" else None, **kwargs)
        parts.append(rel.assign_coords(trial=ids[test]))
        positions.append(np.asarray(test))
    rel = xr.concat(parts, dim="trial", combine_attrs="override")
    rel = rel.isel(trial=np.argsort(np.concatenate(positions), kind="stable"))
    rel.attrs["conservation_error"] = float(max(p.attrs["conservation_error"] for p in parts))
    rel.attrs["out_of_fold"] = len(parts)
    return rel

"""Per-subject cross-validation of the networks beside the classical baselines.

Baselines: CSP + LDA (band power; motor imagery) and shrinkage LDA on
window-averaged samples (the waveform; ERPs and slow potentials).
"""

import time
from dataclasses import dataclass, field

import mne
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline

from ._checks import check_bool, check_int
from ._trials import check_data, epoch_ids, pick_eeg
from ._utils import logger, progress_prefix, verbose
from .classifier import MODEL_CHOICES, EEGClassifier
from .datasets import epochs_to_arrays

BASELINE = "csp+lda"  # the default baseline of cross_validate


def make_csp_lda(n_components=4):
    """The classical baseline: CSP (log-variance) + LDA, as in MNE's example.

    Parameters
    ----------
    n_components : int
        CSP components kept (4 in MNE's motor-imagery example).

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
    """
    from mne.decoding import CSP

    return make_pipeline(CSP(n_components=n_components, reg=None, log=True, norm_trace=False),
                         LinearDiscriminantAnalysis())


class TimeWindowMeans(TransformerMixin, BaseEstimator):
    """Average each channel in consecutive time windows and flatten.

    The features of the shrinkage-LDA baseline: ``(n_trials, n_channels,
    n_times)`` -> ``(n_trials, n_channels * n_windows)``, channel-major. The
    samples are split into ``n_windows`` consecutive windows of (nearly)
    equal length, as :func:`numpy.array_split` splits them, so the features
    do not depend on the sampling rate.

    Parameters
    ----------
    n_windows : int
        Number of windows; at most the number of samples.

    Attributes
    ----------
    n_channels_, n_times_ : int
        Shape of the trials seen in ``fit``; ``transform`` requires the same.
    """

    def __init__(self, n_windows=5):
        self.n_windows = n_windows

    def _check(self, X):
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 3:
            raise ValueError(f"X must be 3-D (n_trials, n_channels, n_times), got shape {X.shape}.")
        return X

    def fit(self, X, y=None):
        """Check the parameters against the data's shape (nothing is learnt).

        Parameters
        ----------
        X : array, shape (n_trials, n_channels, n_times)
        y : ignored

        Returns
        -------
        self : TimeWindowMeans

        Raises
        ------
        ValueError
            If ``X`` is not 3-D or ``n_windows`` is not between 1 and the
            number of samples.
        """
        X = self._check(X)
        n = self.n_windows
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= X.shape[2]:
            raise ValueError(f"n_windows must be an integer from 1 to the number of samples "
                             f"({X.shape[2]}), got {n!r}.")
        self.n_channels_, self.n_times_ = X.shape[1:]
        return self

    def transform(self, X):
        """Window means, flattened.

        Parameters
        ----------
        X : array, shape (n_trials, n_channels, n_times)

        Returns
        -------
        features : array, shape (n_trials, n_channels * n_windows)

        Raises
        ------
        ValueError
            If the trials' shape differs from the one seen in ``fit``.
        """
        X = self._check(X)
        if X.shape[1:] != (self.n_channels_, self.n_times_):
            raise ValueError(f"X has {X.shape[1]} channels x {X.shape[2]} samples; fit saw "
                             f"{self.n_channels_} x {self.n_times_}.")
        means = [w.mean(axis=2) for w in np.array_split(X, self.n_windows, axis=2)]
        return np.stack(means, axis=2).reshape(len(X), -1)


def make_slda(n_windows=5):
    """The ERP baseline: shrinkage LDA on window-averaged samples.

    As BCI research classifies event-related potentials and slow cortical
    potentials (Blankertz et al. 2011, "Single-trial analysis and
    classification of ERP components - a tutorial", NeuroImage 56): the
    mean amplitude of every channel in consecutive time windows, flattened,
    into a linear discriminant whose covariance is shrunk towards a
    diagonal with the analytic Ledoit-Wolf intensity. It classifies the
    waveform, where CSP + LDA classifies band power.

    Parameters
    ----------
    n_windows : int
        Consecutive windows of (nearly) equal length over the epoch: 5 gives
        0.1 s windows on a 0.5 s epoch. Features: ``n_channels * n_windows``.
        On the ERP simulator (28 channels, 0.5 s, 100-600 trials) 5 was the
        best or within 0.03 of it among 3, 5, 8 and 10 windows; more
        windows need more trials (shrinkage only partly makes up for them).

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        :class:`TimeWindowMeans` then
        ``LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")``; it
        takes arrays ``(n_trials, n_channels, n_times)``.
    """
    return make_pipeline(TimeWindowMeans(n_windows),
                         LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"))


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

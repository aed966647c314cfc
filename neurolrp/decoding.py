"""Per-subject cross-validation of the networks beside CSP + LDA."""

import time
from dataclasses import dataclass, field

import mne
import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline

from ._checks import check_bool, check_data, check_int, pick_eeg
from ._utils import logger, use_log_level
from .classifier import EEGClassifier, epochs_to_arrays
from .models import MODELS

BASELINE = "csp+lda"


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


@dataclass
class CVResult:
    """What :func:`cross_validate` returns.

    Attributes
    ----------
    scores : pandas.DataFrame
        One row per model and fold: ``model``, ``fold``, ``accuracy``,
        ``fit_seconds``, ``n_train``, ``n_test``.
    predictions : pandas.DataFrame
        One row per model and trial (out-of-fold): ``model``, ``trial``,
        ``fold``, ``y_true``, ``y_pred``, ``correct`` and ``proba_<class>``.
    estimators : dict
        Model name -> list of the fitted estimators, one per fold.
    folds : list of (ndarray, ndarray)
        Train and test trial indices of every fold.
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


def cross_validate(epochs, models=("shallow",), *, n_splits=5, baseline=True, seed=0,
                   classifier_params=None, verbose=True):
    """Stratified k-fold CV of networks and CSP + LDA on the same folds.

    Parameters
    ----------
    epochs : mne.Epochs
        One subject's trials; classes are the event names. Only the good EEG
        channels are used (non-EEG and bad channels are dropped, and the
        log says which), by the networks and the baseline alike.
    models : sequence of str
        Networks to evaluate (``"shallow"``, ``"eegnet"``, ``"sturm"``).
    n_splits : int
        Folds of the stratified k-fold split (shuffled with ``seed``).
    baseline : bool
        Also evaluate CSP (4 components, log-variance) + LDA.
    seed : int
        Seed of the split and of every network.
    classifier_params : dict | None
        Extra :class:`~neurolrp.EEGClassifier` parameters for every network.
    verbose : bool
        Log progress per model and fold.

    Returns
    -------
    result : CVResult
        Accuracy per model and fold, out-of-fold predictions and
        probabilities of every trial, the fitted estimators and the folds.

    Raises
    ------
    TypeError, ValueError
        Not epochs, unknown or repeated models, ``n_splits < 2``, fewer
        trials per class than folds, bad ``classifier_params``, data that
        are not finite: all before any training.
    """
    if not isinstance(epochs, mne.BaseEpochs):
        raise TypeError(f"epochs must be mne.Epochs, got {type(epochs).__name__}.")
    if isinstance(models, str):
        models = (models,)
    if not isinstance(models, (list, tuple)) or not all(isinstance(m, str) for m in models):
        raise TypeError(f"models must be a list of network names, got {models!r}.")
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise ValueError(f"Unknown model(s) {unknown}; choose from {sorted(MODELS)}.")
    if len(set(models)) != len(models):
        raise ValueError(f"models lists a network twice: {list(models)}.")
    n_splits = check_int(n_splits, "n_splits", low=2)
    seed = check_int(seed, "seed", low=0)
    baseline = check_bool(baseline, "baseline")
    if not models and not baseline:
        raise ValueError("Nothing to cross-validate: give models or baseline=True.")
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
            EEGClassifier(name, seed=seed, verbose=False, **classifier_params)._validate_params()
    with use_log_level(verbose):
        epochs = pick_eeg(epochs)  # once: every model and the baseline see the same channels
    X, y, sfreq = epochs_to_arrays(epochs)
    check_data(X, "The epochs' data", cast=False)
    classes, counts = np.unique(y, return_counts=True)
    if counts.min() < n_splits:
        raise ValueError(
            f"{n_splits}-fold CV needs at least {n_splits} trials per class; got "
            f"{dict(zip(classes, counts))}. Use fewer folds."
        )
    folds = list(StratifiedKFold(n_splits, shuffle=True, random_state=seed).split(X, y))
    names = list(models) + ([BASELINE] if baseline else [])
    rows, preds, estimators = [], [], {}
    with use_log_level(verbose):
        for name in names:
            if name == BASELINE:
                template = make_csp_lda()
                data = X.astype(np.float64)
            else:
                template = EEGClassifier(name, seed=seed, verbose=False,
                                         **(classifier_params or {}))
                data = epochs
            estimators[name] = []
            for k, (train, test) in enumerate(folds):
                t0 = time.perf_counter()
                est = clone(template)
                with mne.utils.use_log_level("WARNING"):  # CSP logs every covariance
                    est.fit(data[train], y[train])
                    proba, pred = est.predict_proba(data[test]), est.predict(data[test])
                fit_s = time.perf_counter() - t0
                acc = float(np.mean(pred == y[test]))
                rows.append({"model": name, "fold": k, "accuracy": acc, "fit_seconds": fit_s,
                             "n_train": len(train), "n_test": len(test)})
                for i, trial in enumerate(test):
                    row = {"model": name, "trial": int(trial), "fold": k, "y_true": y[trial],
                           "y_pred": pred[i], "correct": bool(pred[i] == y[trial])}
                    row.update({f"proba_{c}": float(p) for c, p in zip(est.classes_, proba[i])})
                    preds.append(row)
                estimators[name].append(est)
                logger.info(f"  {name:8s} fold {k + 1}/{n_splits}: accuracy {acc:.3f} "
                            f"({fit_s:.1f} s)")
    predictions = pd.DataFrame(preds).sort_values(["model", "trial"], kind="stable")
    return CVResult(pd.DataFrame(rows), predictions.reset_index(drop=True), estimators, folds,
                    classes)

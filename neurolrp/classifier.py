"""``EEGClassifier``: a scikit-learn estimator around the shipped networks."""

import copy
from pathlib import Path

import mne
import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import train_test_split

from ._utils import check_3d, check_finite, progress
from .models import MODELS, make_model


def epochs_to_arrays(epochs):
    """Data, class-name labels and sampling rate of ``mne.Epochs``."""
    names = {code: name for name, code in epochs.event_id.items()}
    y = np.array([names[code] for code in epochs.events[:, 2]], dtype=object)
    return epochs.get_data(copy=False), y, float(epochs.info["sfreq"])


class EEGClassifier(ClassifierMixin, BaseEstimator):
    """Train a compact deep network on EEG trials, scikit-learn style.

    Parameters
    ----------
    model : "shallow" | "eegnet" | "sturm"
        The network: ShallowConvNet, EEGNet-8,2 or a fully connected net
        (see :mod:`neurolrp.models`).
    sfreq : float | None
        Sampling rate in Hz of array input; taken from ``info`` for
        ``mne.Epochs`` (then it must be ``None`` or agree).
    max_epochs : int
        Upper bound on passes over the training data.
    patience : int
        Early stopping: stop after this many epochs without a lower loss on
        the internal validation split, and keep the best weights.
    validation_size : float
        Share of the training trials held out (stratified) for early stopping.
    batch_size : int
        Mini-batch size.
    lr, weight_decay : float
        Adam's learning rate and L2 penalty.
    model_params : dict | None
        Extra arguments of the network (e.g. ``{"dropout": 0.25}``).
    seed : int
        Seed for weights, splits and batches: the same seed gives the same
        predictions.
    verbose : bool
        Show a progress bar while training.

    Attributes
    ----------
    classes_ : ndarray
        Class labels, sorted.
    module_ : torch.nn.Module
        The fitted network (in eval mode); this is what gets explained. It
        expects input scaled by :meth:`scale`.
    scale_mean_, scale_std_ : ndarray, shape (n_channels,)
        Per-channel input scaling learned on the training data.
    input_range_ : (float, float)
        Smallest and largest scaled training value (the input box that
        LRP's z^B rule assumes).
    n_channels_, n_times_, sfreq_ : int, int, float
        Input geometry seen at fit.
    ch_names_ : list of str | None
        Channel names when fitted on ``mne.Epochs``.
    history_ : list of dict
        Per training epoch: train loss, validation loss and accuracy.
    """

    def __init__(self, model="shallow", *, sfreq=None, max_epochs=150, patience=30,
                 validation_size=0.2, batch_size=16, lr=1e-3, weight_decay=0.0,
                 model_params=None, seed=0, verbose=True):
        self.model = model
        self.sfreq = sfreq
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_size = validation_size
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.model_params = model_params
        self.seed = seed
        self.verbose = verbose

    # ------------------------------------------------------------------ input
    def _arrays(self, X, y=None, fitting=False):
        """Validate input; return float32 data, labels (or None), ch names."""
        ch_names = None
        if isinstance(X, mne.BaseEpochs):
            data, y_ep, sfreq = epochs_to_arrays(X)
            ch_names = list(X.ch_names)
            if y is None:
                y = y_ep
            if fitting:
                if self.sfreq is not None and not np.isclose(self.sfreq, sfreq):
                    raise ValueError(f"sfreq={self.sfreq} disagrees with the epochs' {sfreq} Hz.")
                self.sfreq_ = sfreq
            elif not np.isclose(sfreq, self.sfreq_):
                raise ValueError(
                    f"The epochs are sampled at {sfreq:g} Hz; the classifier was fitted at "
                    f"{self.sfreq_:g} Hz. Resample them first."
                )
        else:
            data = X
            if fitting:
                if self.sfreq is None:
                    raise ValueError(
                        "For array input pass the sampling rate: EEGClassifier(sfreq=...)."
                    )
                self.sfreq_ = float(self.sfreq)
        data = check_3d(data)
        check_finite(data, "X")
        if y is not None:
            y = np.asarray(y)
            if y.ndim != 1 or len(y) != len(data):
                raise ValueError(
                    f"y must have one label per trial: X has {len(data)} trials, y has shape "
                    f"{y.shape}."
                )
        if not fitting:
            self._check_fitted()
            if data.shape[1:] != (self.n_channels_, self.n_times_):
                raise ValueError(
                    f"X has {data.shape[1]} channels x {data.shape[2]} samples; the classifier "
                    f"was fitted on {self.n_channels_} x {self.n_times_}."
                )
            if ch_names is not None and self.ch_names_ is not None and ch_names != self.ch_names_:
                raise ValueError(
                    "The epochs' channels differ from those at fit (names or order); pick and "
                    "reorder them with epochs.reorder_channels(clf.ch_names_)."
                )
        return data.astype(np.float32, copy=False), y, ch_names

    def _check_fitted(self):
        if not hasattr(self, "module_"):
            raise NotFittedError(
                "This EEGClassifier is not fitted yet; call fit(X, y) first."
            )

    def scale(self, X):
        """Apply the input scaling learned at fit (what ``module_`` expects)."""
        if not hasattr(self, "scale_std_"):
            self._check_fitted()
        X = np.asarray(X, dtype=np.float32)
        return (X - self.scale_mean_[:, None]) / self.scale_std_[:, None]

    # -------------------------------------------------------------------- fit
    def fit(self, X, y=None):
        """Train the network.

        Parameters
        ----------
        X : mne.Epochs | array, shape (n_trials, n_channels, n_times)
            Training trials. With epochs, labels are the event names.
        y : array, shape (n_trials,) | None
            Labels; required for array input.

        Returns
        -------
        self : EEGClassifier
        """
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {sorted(MODELS)}, got {self.model!r}.")
        data, y, ch_names = self._arrays(X, y, fitting=True)
        if y is None:
            raise ValueError("y is required with array input.")
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"Need at least two classes to train, got only {self.classes_}.")
        counts = np.bincount(y_idx)
        if counts.min() < 2:
            raise ValueError(
                f"Every class needs at least two trials; got {dict(zip(self.classes_, counts))}."
            )
        self.n_channels_, self.n_times_ = data.shape[1:]
        self.ch_names_ = ch_names
        self.scale_mean_ = data.mean(axis=(0, 2)).astype(np.float32)
        self.scale_std_ = data.std(axis=(0, 2)).astype(np.float32)
        self.scale_std_[self.scale_std_ == 0] = 1.0

        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        module = make_model(self.model, self.n_channels_, self.n_times_, len(self.classes_),
                            self.sfreq_, **(self.model_params or {}))
        x_all = torch.from_numpy(self.scale(data))
        # the range of the (scaled) training input: the box of LRP's z^B rule
        self.input_range_ = (float(x_all.min()), float(x_all.max()))
        y_all = torch.from_numpy(y_idx.astype(np.int64))
        n_val = max(len(self.classes_), int(round(self.validation_size * len(y_idx))))
        if self.validation_size > 0 and len(y_idx) - n_val >= len(self.classes_):
            train_idx, val_idx = train_test_split(
                np.arange(len(y_idx)), test_size=n_val, stratify=y_idx,
                random_state=self.seed)
        else:
            train_idx, val_idx = np.arange(len(y_idx)), np.array([], dtype=int)

        opt = torch.optim.Adam(module.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        loss_fn = torch.nn.CrossEntropyLoss()
        # gathered once, not every epoch; the best weights are copied into one snapshot
        x_val, y_val = x_all[val_idx], y_all[val_idx]
        best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        best = (np.inf, None, 0)
        self.history_ = []
        bar = progress(range(self.max_epochs), f"Training {self.model}", verbose=self.verbose)
        for epoch in bar:
            module.train()
            order = rng.permutation(train_idx)
            total = 0.0
            for start in range(0, len(order), self.batch_size):
                batch = order[start:start + self.batch_size]
                if len(batch) < 2 and len(order) > 1:
                    continue  # batch norm needs two samples
                opt.zero_grad()
                loss = loss_fn(module(x_all[batch]), y_all[batch])
                loss.backward()
                opt.step()
                if hasattr(module, "apply_constraints"):
                    module.apply_constraints()
                total += loss.item() * len(batch)
            record = {"epoch": epoch, "train_loss": total / len(order)}
            monitor = record["train_loss"]
            if len(val_idx):
                module.eval()
                with torch.no_grad():
                    out = module(x_val)
                    record["val_loss"] = loss_fn(out, y_val).item()
                    record["val_accuracy"] = (out.argmax(1) == y_val).float().mean().item()
                monitor = record["val_loss"]
            self.history_.append(record)
            if hasattr(bar, "set_postfix"):
                bar.set_postfix({k: round(v, 3) for k, v in record.items() if k != "epoch"})
            if monitor < best[0]:
                for key, value in module.state_dict().items():
                    best_state[key].copy_(value)
                best = (monitor, best_state, epoch)
            elif epoch - best[2] >= self.patience:
                break
        module.load_state_dict(best[1])
        module.eval()
        if hasattr(module, "center_log_power"):
            module.center_log_power(x_all)
        self.module_ = module
        self.best_epoch_ = best[2]
        return self

    # ---------------------------------------------------------------- predict
    @torch.no_grad()
    def decision_function(self, X):
        """Class scores (logits), shape (n_trials, n_classes)."""
        data, _, _ = self._arrays(X)
        self.module_.eval()
        x = torch.from_numpy(self.scale(data))
        return torch.cat([self.module_(x[i:i + 256]) for i in range(0, len(x), 256)]).numpy()

    def predict_proba(self, X):
        """Class probabilities (softmax of the scores), shape (n_trials, n_classes)."""
        scores = self.decision_function(X)
        scores = scores - scores.max(axis=1, keepdims=True)
        p = np.exp(scores)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X):
        """Predicted class label per trial."""
        scores = self.decision_function(X)
        return self.classes_[scores.argmax(axis=1)]

    def score(self, X, y=None, sample_weight=None):
        """Accuracy; with epochs, labels default to the event names."""
        if y is None and isinstance(X, mne.BaseEpochs):
            y = epochs_to_arrays(X)[1]
        return super().score(X, y, sample_weight=sample_weight)

    # ------------------------------------------------------------- save/load
    def save(self, fname):
        """Save the fitted classifier (configuration, weights, scaling).

        Parameters
        ----------
        fname : path-like
            Output file (conventionally ``.pt``).
        """
        self._check_fitted()
        state = {
            "params": self.get_params(),
            "state_dict": self.module_.state_dict(),
            "fitted": {k: getattr(self, k) for k in (
                "classes_", "scale_mean_", "scale_std_", "n_channels_", "n_times_", "sfreq_",
                "ch_names_", "history_", "best_epoch_", "input_range_")},
        }
        torch.save(state, Path(fname))
        return Path(fname)

    @classmethod
    def load(cls, fname):
        """Load a classifier saved with :meth:`save`; predictions are identical."""
        state = torch.load(Path(fname), weights_only=False)
        clf = cls(**state["params"])
        for key, val in state["fitted"].items():
            setattr(clf, key, val)
        module = make_model(clf.model, clf.n_channels_, clf.n_times_, len(clf.classes_),
                            clf.sfreq_, **(clf.model_params or {}))
        module.load_state_dict(state["state_dict"])
        clf.module_ = module.eval()
        return clf

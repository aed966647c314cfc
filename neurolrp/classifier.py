"""``EEGClassifier``: a scikit-learn estimator around the shipped networks."""

import inspect
import numbers
from pathlib import Path

import mne
import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import train_test_split

from ._checks import check_int, check_number
from ._device import check_device, module_device
from ._baselines import make_slda
from ._files import atomic_file, check_output_file
from ._trials import read_trials
from ._utils import logger, progress, use_log_level
from .lrp.patterns import compute_between_class_patterns, compute_patterns
from .datasets import epochs_to_arrays
from .models import MODELS, make_model

#: What :meth:`EEGClassifier.save` writes besides the parameters and weights.
_FITTED = ("classes_", "scale_mean_", "scale_std_", "n_channels_", "n_times_", "sfreq_",
           "ch_names_", "history_", "best_epoch_", "input_range_", "patterns_", "class_patterns_",
           "tmin_", "model_", "model_selection_")
#: Fitted values that files saved by earlier versions may lack.
_OPTIONAL = ("input_range_", "patterns_", "class_patterns_", "tmin_", "model_", "model_selection_")
#: What ``model="auto"`` chooses between: a band-power network and a waveform
#: network (motor imagery vs event-related potentials; see docs/models.md).
AUTO_CANDIDATES = ("shallow", "eegnet")
#: Inner cross-validation folds of ``model="auto"``'s test of the waveform.
AUTO_FOLDS = 3
#: Significance level of that test: the waveform network is chosen when shrinkage
#: LDA on window means classifies the training trials better than chance at it.
AUTO_ALPHA = 0.05
#: Every accepted ``model``: the shipped networks and "auto".
MODEL_CHOICES = (*sorted(MODELS), "auto")


class EEGClassifier(ClassifierMixin, BaseEstimator):
    """Train a compact deep network on EEG trials, scikit-learn style.

    Parameters
    ----------
    model : "auto" | "shallow" | "eegnet" | "sturm"
        The network: ShallowConvNet, EEGNet-8,2 or a fully connected net
        (see :mod:`neurolrp.models`). ``"auto"`` (default) asks the data
        given to :meth:`fit` (never other data) whether their waveform
        tells the classes apart: shrinkage LDA on window means
        (:func:`neurolrp.decoding.make_slda`, the ERP baseline) is
        cross-validated on them (3 folds, seconds at most), and if its
        accuracy is above chance (one-sided binomial test, p < 0.05) EEGNet
        (waveforms: event-related and slow potentials) is trained, else
        ShallowNet (band power: motor imagery). One network is trained, so
        it costs about one training. ``model_`` and ``model_selection_`` say
        what was chosen and why; docs/models.md ("Choosing the network") shows
        the measurements behind this design.
    sfreq : float | None
        Sampling rate in Hz of array input; taken from ``info`` for
        ``mne.Epochs`` (then it must be ``None`` or agree).
    max_epochs : int | None
        Upper bound on passes over the training data. ``None``: the
        network's own setting (``TRAINING`` of its class), else 150.
    patience : int | None
        Early stopping: stop after this many epochs without a lower loss on
        the internal validation split, and keep the best weights. ``None``:
        the network's own setting, else 30.
    validation_size : float
        Share of the training trials held out (stratified) for early stopping.
    batch_size : int
        Mini-batch size, at least 2 (batch norm needs two trials per step).
    lr : float | None
        Adam's learning rate. ``None``: the network's own setting, else 1e-3.
    weight_decay : float
        Adam's L2 penalty.
    model_params : dict | None
        Extra arguments of the network (e.g. ``{"dropout": 0.25}``).
    seed : int
        Seed for weights, splits and batches: the same seed gives the same
        predictions.
    verbose : bool | str | int | None
        Progress and messages, MNE's convention: ``None`` (default), ``True``
        or ``"info"`` show a progress bar while training and say which
        channels epochs lose; ``False`` or ``"warning"`` keep quiet.
    device : "auto" | str | torch.device
        Where the network trains and predicts (and, by default, is
        explained): ``"auto"`` a CUDA GPU when torch sees one, else the CPU;
        ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or a ``torch.device``. Data go to
        it one batch at a time; results come back as NumPy arrays. A
        classifier saved on a GPU loads on a CPU-only machine (see
        :meth:`load`).

    Attributes
    ----------
    classes_ : ndarray
        Class labels, sorted.
    model_ : str
        The network that was trained (``model``, or the choice of
        ``"auto"``).
    model_selection_ : dict | None
        With ``"auto"``: the test behind the choice, ``{"slda_accuracy"``
        (inner cross-validated accuracy of shrinkage LDA on the waveform),
        ``"chance"`` (the most frequent class's share), ``"p_value"``,
        ``"alpha"``, ``"n_trials"}``; EEGNet was chosen if ``p_value <
        alpha``. ``None`` otherwise.
    module_ : torch.nn.Module
        The fitted network (in eval mode); this is what gets explained. It
        expects input scaled by :meth:`scale`.
    scale_mean_, scale_std_ : ndarray, shape (n_channels,)
        Per-channel input scaling learned on the training data.
    input_range_ : (float, float)
        Smallest and largest scaled training value (the input box that
        LRP's z^B rule assumes).
    patterns_ : dict
        Layer name -> signal pattern measured on the training data (what
        LRP's Pattern rule needs; see :func:`neurolrp.lrp.compute_patterns`).
    class_patterns_ : dict
        Layer name -> between-class pattern measured on the training data:
        the pattern of what differs between the classes' mean time courses
        (what the rules with ``signal="between"`` need, such as the spatial
        filter's in the waveform composite; see
        :func:`neurolrp.lrp.compute_between_class_patterns`).
    n_channels_, n_times_, sfreq_ : int, int, float
        Input geometry seen at fit.
    tmin_ : float | None
        Start of the epochs at fit in seconds (``None`` for array input):
        later epochs must start there too, and the relevance of array input
        is timed from it.
    ch_names_ : list of str | None
        Channel names when fitted on ``mne.Epochs`` (its good EEG channels:
        non-EEG channels and those marked bad are dropped wherever epochs
        come in). Epochs given later must have these channels in this order.
    history_ : list of dict
        Per training epoch: train loss, validation loss and accuracy.
    device_ : torch.device
        Where ``module_`` lives.

    Notes
    -----
    Input is 3-D, ``(n_trials, n_channels, n_times)``, or ``mne.Epochs``;
    the estimator tags say so (``three_d_array``), so scikit-learn's
    generic 2-D checks do not apply. Parameters are validated at
    :meth:`fit`, before any work (scikit-learn's convention).
    """

    def __init__(self, model="auto", *, sfreq=None, max_epochs=None, patience=None,
                 validation_size=0.2, batch_size=16, lr=None, weight_decay=0.0,
                 model_params=None, seed=0, verbose=None, device="auto"):
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
        self.device = device

    # ------------------------------------------------------------------ input
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        return tags

    def __sklearn_is_fitted__(self):
        return hasattr(self, "module_")

    def validate_params(self):
        """Check every constructor parameter; raise before any work.

        :meth:`fit` calls it first; :func:`~neurolrp.cross_validate` calls it
        for every network before the first fold.

        Raises
        ------
        ValueError
            A parameter out of range or unknown (``model``, ``model_params``).
        TypeError
            A parameter of the wrong type.
        """
        if not isinstance(self.model, str) or self.model not in MODEL_CHOICES:
            raise ValueError(f"model must be one of {list(MODEL_CHOICES)}, got {self.model!r}.")
        if self.model == "auto" and self.model_params is not None:
            raise ValueError("model_params need a chosen network; with model='auto' the "
                             "candidates use their defaults (give model= to set them).")
        check_number(self.sfreq, "sfreq", low=0, low_open=True, none_ok=True)
        if self.max_epochs is not None:
            check_int(self.max_epochs, "max_epochs", low=1)
        if self.patience is not None:
            check_int(self.patience, "patience", low=0)
        check_number(self.validation_size, "validation_size", low=0, high=1, high_open=True)
        if isinstance(self.batch_size, numbers.Integral) and not isinstance(self.batch_size, bool) \
                and self.batch_size == 1:
            raise ValueError(
                "batch_size must be at least 2: batch norm needs two trials per step, so "
                "batch_size=1 would train nothing. Use batch_size=2 or more (default 16)."
            )
        check_int(self.batch_size, "batch_size", low=2)
        check_number(self.lr, "lr", low=0, low_open=True, none_ok=True)
        check_number(self.weight_decay, "weight_decay", low=0)
        check_int(self.seed, "seed", low=0, high=2**32 - 1)
        check_device(self.device)
        if self.verbose is not None and not isinstance(self.verbose, (bool, str, int)):
            raise TypeError(f"verbose must be a bool, got {self.verbose!r}.")
        if self.model_params is not None:
            if not isinstance(self.model_params, dict):
                raise TypeError("model_params must be a dict of network arguments or None, got "
                                f"{type(self.model_params).__name__}.")
            sig = inspect.signature(MODELS[self.model])
            fixed = ("n_channels", "n_times", "n_classes", "sfreq")
            allowed = [p for p in sig.parameters if p not in fixed]
            wrong = [k for k in self.model_params if k not in allowed]
            if wrong:
                raise ValueError(
                    f"model_params {wrong} are not arguments of the {self.model!r} network"
                    + (" (set by the classifier from the data)" if set(wrong) & set(fixed)
                       else "") + f"; it takes {allowed}."
                )

    def _arrays(self, X, y=None, fitting=False):
        """Validate input; return float32 data, labels (or None), ch names.

        One path for fit and predict: epochs lose their non-EEG and bad
        channels, data must be finite and within float32's range, labels
        one per trial; after fit the channel names and order, the sampling
        rate and the shape must match what was fitted.
        """
        if not fitting:
            self._check_fitted()  # before any fitted attribute is read
        # the same reading and checks as explain's (one path, see read_trials)
        level = self.verbose if isinstance(self.verbose, (bool, str)) else True
        trials = read_trials(X, y, est=None if fitting else self, what="X", verbose=level)
        data, y, ch_names = trials.data, trials.y, trials.ch_names
        sfreq, tmin = trials.sfreq, trials.tmin
        if fitting:
            if sfreq is not None:
                if self.sfreq is not None and not np.isclose(self.sfreq, sfreq):
                    raise ValueError(f"sfreq={self.sfreq} disagrees with the epochs' {sfreq} Hz.")
                self.sfreq_ = sfreq
                self.tmin_ = tmin
            elif self.sfreq is None:
                raise ValueError(
                    "For array input pass the sampling rate: EEGClassifier(sfreq=...)."
                )
            else:
                self.sfreq_ = float(self.sfreq)
                self.tmin_ = None
        return data, y, ch_names

    def _training(self, name):
        """Learning rate, epochs and patience: the user's, else the network's, else generic."""
        own = getattr(MODELS.get(name), "TRAINING", {})
        generic = {"lr": 1e-3, "max_epochs": 150, "patience": 30}
        return {k: getattr(self, k) if getattr(self, k) is not None else own.get(k, v)
                for k, v in generic.items()}

    def _check_fitted(self):
        if not hasattr(self, "module_"):
            raise NotFittedError(
                "This EEGClassifier is not fitted yet; call fit(X, y) first."
            )

    def scale(self, X):
        """Apply the input scaling learned at fit (what ``module_`` expects).

        Parameters
        ----------
        X : array, shape (n_trials, n_channels, n_times)
            Trials with the fitted channels.

        Returns
        -------
        X_scaled : ndarray of float32

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        ValueError
            Another number of channels than at fit.
        """
        if not hasattr(self, "scale_std_"):
            self._check_fitted()
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 3 or X.shape[1] != len(self.scale_std_):
            raise ValueError(f"scale expects (n_trials, {len(self.scale_std_)}, n_times), got "
                             f"shape {X.shape}.")
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

        Raises
        ------
        ValueError
            A parameter out of range (e.g. ``batch_size < 2``), data that are
            not 3-D, finite and within float32's range, labels that are not
            one per trial (or None/NaN), fewer than two classes or a class
            with fewer than two trials, array input without ``sfreq``, or a
            window too short for the network, or (``model="auto"``) a class
            with fewer than 3 trials. Raised before any training.
        TypeError
            A parameter of the wrong type.
        """
        self.validate_params()
        data, y, ch_names = self._arrays(X, y, fitting=True)
        if y is None:
            raise ValueError(
                "EEGClassifier requires y to be passed, but the target y is None: give one "
                "label per trial (or fit mne.Epochs, whose event names are the labels)."
            )
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"Need at least two classes to train; got one class, "
                             f"{self.classes_.tolist()}.")
        counts = np.bincount(y_idx)
        if counts.min() < 2:
            raise ValueError(
                f"Every class needs at least two trials; got {dict(zip(self.classes_, counts))}."
            )
        self.n_channels_, self.n_times_ = data.shape[1:]
        self.ch_names_ = ch_names
        # in float64: float32 sums of large values would overflow
        self.scale_mean_ = data.mean(axis=(0, 2), dtype=np.float64).astype(np.float32)
        self.scale_std_ = data.std(axis=(0, 2), dtype=np.float64).astype(np.float32)
        self.scale_std_[~(self.scale_std_ > 0)] = 1.0
        if not (np.isfinite(self.scale_std_).all() and np.isfinite(self.scale(data)).all()):
            raise ValueError("X is too large to scale in float32; rescale it (EEG in volts is "
                             "about 1e-5).")
        # the network must take this window (a clear error now, not in the loop)
        for name in (AUTO_CANDIDATES if self.model == "auto" else (self.model,)):
            make_model(name, self.n_channels_, self.n_times_, len(self.classes_), self.sfreq_,
                       **(self.model_params or {}))
        device = check_device(self.device)
        x_all = torch.from_numpy(self.scale(data))  # stays on the CPU; batches travel
        # the range of the (scaled) training input: the box of LRP's z^B rule
        self.input_range_ = (float(x_all.min()), float(x_all.max()))
        self.model_selection_ = None
        if self.model == "auto":
            self.model_, self.model_selection_ = self._select_model(data, y_idx)
        else:
            self.model_ = self.model
        module, self.history_, self.best_epoch_ = self._fit_network(self.model_, x_all, y_idx,
                                                                    device)
        if hasattr(module, "center_log_power"):
            module.center_log_power(x_all.to(device))
        self.module_ = module
        self.device_ = device
        # what each layer's outputs look like in its input, for LRP's Pattern rule
        self.patterns_ = compute_patterns(module, x_all)
        # and of what differs between the classes (their means), for rules on signal="between"
        self.class_patterns_ = compute_between_class_patterns(module, x_all, y_idx)
        return self

    def fine_tune(self, X, y, *, seed=None):
        """Continue training the fitted network on more trials, with :meth:`fit`'s own loop.

        Adam (``lr``, ``max_epochs`` and ``patience`` as at fit), early stopping
        on a stratified validation split of ``X`` (``validation_size``),
        ending in the best weights. The layers' patterns (``patterns_``,
        ``class_patterns_``) are measured again on ``X``, since the layers
        changed (between-class patterns only where ``X`` holds two classes or
        more; else ``None``, and :func:`~neurolrp.explain` measures them on the
        data it explains). The input scaling, classes and everything else
        learned at fit stay as they are (set ``scale_mean_`` and
        ``scale_std_`` first to scale the new trials otherwise). The study's subject-to-subject
        transfer fine-tunes a network pre-trained on other subjects this way.

        Parameters
        ----------
        X : mne.Epochs | array, shape (n_trials, n_channels, n_times)
            Trials like those at fit (channels, sampling rate, length).
        y : array, shape (n_trials,) | None
            Labels, each a class seen at fit; default the epochs' event names.
        seed : int | None
            Seed of the weights' update order and the validation split;
            default the classifier's ``seed``.

        Returns
        -------
        self : EEGClassifier
            ``history_`` and ``best_epoch_`` now describe the fine-tuning.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        ValueError
            Data unlike those at fit, no labels, or a label that is not a
            class of the classifier.
        """
        data, y, _ = self._arrays(X, y)
        if y is None:
            raise ValueError("fine_tune needs labels: pass y (or mne.Epochs, whose event names "
                             "are the labels).")
        position = {c: k for k, c in enumerate(self.classes_.tolist())}
        unknown = sorted({str(v) for v in y if v not in position})
        if unknown:
            raise ValueError(f"Labels {unknown[:10]} are not classes of the classifier "
                             f"({self.classes_.tolist()}).")
        seed = self.seed if seed is None else check_int(seed, "seed", low=0, high=2**32 - 1)
        y_idx = np.array([position[v] for v in y], dtype=np.int64)
        torch.manual_seed(seed)
        x_all = torch.from_numpy(self.scale(data))
        self.history_, self.best_epoch_ = self._train(
            self.module_, x_all, y_idx, self._training(self.model_),
            np.random.default_rng(seed), seed, module_device(self.module_))
        # the patterns describe the layers, which changed: measured again, on these trials
        self.patterns_ = compute_patterns(self.module_, x_all)
        self.class_patterns_ = (compute_between_class_patterns(self.module_, x_all, y_idx)
                                if len(np.unique(y_idx)) > 1 else None)
        return self

    def _fit_network(self, name, x_all, y_idx, device):
        """Build network ``name`` from the seed and train it: ``(module, history, best epoch)``."""
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        # initialised on the CPU, then moved: the same seed gives the same start everywhere
        module = make_model(name, self.n_channels_, self.n_times_, len(self.classes_),
                            self.sfreq_, **(self.model_params or {})).to(device)
        history, best = self._train(module, x_all, y_idx, self._training(name), rng, self.seed,
                                    device, name)
        return module, history, best

    def _train(self, module, x_all, y_idx, training, rng, seed, device, name=None):
        """Adam with early stopping on a stratified validation split; ends in the best weights.

        Shared by :meth:`fit` and :meth:`fine_tune` (which continues a
        fitted network). ``x_all`` is scaled input on the CPU (batches travel
        to ``device``), ``rng`` orders the trials, ``seed`` draws the split.
        Returns the per-epoch history and the best epoch; ``module`` is left
        in eval mode with the best weights. ``name`` labels the progress bar
        (default: ``model_``).
        """
        y_all = torch.from_numpy(y_idx.astype(np.int64))
        n_classes = len(self.classes_)
        n_val = max(n_classes, int(round(self.validation_size * len(y_idx))))
        if self.validation_size > 0 and len(y_idx) - n_val >= n_classes and \
                np.bincount(y_idx).min() >= 2:  # stratifying needs two trials of a class
            train_idx, val_idx = train_test_split(
                np.arange(len(y_idx)), test_size=n_val, stratify=y_idx, random_state=seed)
        else:
            train_idx, val_idx = np.arange(len(y_idx)), np.array([], dtype=int)

        opt = torch.optim.Adam(module.parameters(), lr=training["lr"],
                               weight_decay=self.weight_decay)
        loss_fn = torch.nn.CrossEntropyLoss()
        # gathered once, not every epoch; the best weights are copied into one snapshot
        x_val, y_val = x_all[val_idx].to(device), y_all[val_idx].to(device)
        best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        best = (np.inf, None, 0)
        history = []
        bar = progress(range(training["max_epochs"]), f"Training {name or self.model_}",
                       verbose=self.verbose)
        for epoch in bar:
            module.train()
            order = rng.permutation(train_idx)
            total = 0.0
            for start in range(0, len(order), self.batch_size):
                batch = order[start:start + self.batch_size]
                if len(batch) < 2 and len(order) > 1:
                    continue  # batch norm needs two samples
                opt.zero_grad()
                loss = loss_fn(module(x_all[batch].to(device, non_blocking=True)),
                               y_all[batch].to(device, non_blocking=True))
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
            history.append(record)
            if hasattr(bar, "set_postfix"):
                bar.set_postfix({k: round(v, 3) for k, v in record.items() if k != "epoch"})
            if monitor < best[0]:
                for key, value in module.state_dict().items():
                    best_state[key].copy_(value)
                best = (monitor, best_state, epoch)
            elif epoch - best[2] >= training["patience"]:
                break
        module.load_state_dict(best[1])
        module.eval()
        return history, best[2]

    def _select_model(self, data, y_idx):
        """The waveform test of ``model="auto"``, on ``data`` (the training trials) only.

        Shrinkage LDA on window means reads the waveform; band-passed
        rhythms average out in its windows. Its pooled out-of-fold
        predictions over an inner stratified split are tested against
        always guessing the most frequent class. Measured on the ERP and
        motor-imagery simulators and S001 (docs/models.md): p < 1e-6 on every ERP
        fold, p > 0.5 on every motor-imagery fold.
        """
        from scipy.stats import binomtest
        from sklearn.model_selection import StratifiedKFold, cross_val_predict


        counts = np.bincount(y_idx)
        if counts.min() < AUTO_FOLDS:
            raise ValueError(f"model='auto' tests the waveform by {AUTO_FOLDS}-fold "
                             f"cross-validation and needs at least {AUTO_FOLDS} trials of every "
                             f"class; the smallest has {counts.min()}. Choose the network with "
                             "model=.")
        n_folds = AUTO_FOLDS
        folds = StratifiedKFold(n_folds, shuffle=True, random_state=self.seed)
        pred = cross_val_predict(make_slda(min(5, self.n_times_)), data.astype(np.float64),
                                 y_idx, cv=folds)
        n_correct = int((pred == y_idx).sum())
        chance = float(counts.max() / len(y_idx))
        p_value = float(binomtest(n_correct, len(y_idx), chance, alternative="greater").pvalue)
        chose = "eegnet" if p_value < AUTO_ALPHA else "shallow"
        with use_log_level(self.verbose):
            logger.info(f"model='auto' chose {chose}: shrinkage LDA on the waveform "
                        f"{n_correct / len(y_idx):.3f} in {n_folds}-fold inner CV (chance "
                        f"{chance:.3f}, p = {p_value:.2g})")
        # numbers only: what a user prints or rounds (model_ names the choice)
        return chose, {"slda_accuracy": n_correct / len(y_idx), "chance": chance,
                       "p_value": p_value, "alpha": AUTO_ALPHA, "n_trials": int(len(y_idx))}

    # ---------------------------------------------------------------- predict
    @torch.no_grad()
    def logits(self, X):
        """The network's class scores, one column per class, shape (n_trials, n_classes).

        These are the outputs LRP explains (``score`` in the relevance).

        Parameters
        ----------
        X : mne.Epochs | array, shape (n_trials, n_channels, n_times)
            Trials with the channels (names and order), sampling rate and
            length seen at fit.

        Returns
        -------
        logits : ndarray, shape (n_trials, n_classes)
            Column ``k`` belongs to ``classes_[k]``.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        ValueError
            Data unlike those at fit (channels, sampling rate, shape), or not
            finite.
        """
        data, _, _ = self._arrays(X)
        self.module_.eval()
        device = module_device(self.module_)  # where it is now, should a user have moved it
        x = torch.from_numpy(self.scale(data))
        return torch.cat([self.module_(x[i:i + 256].to(device)).cpu()
                          for i in range(0, len(x), 256)]).numpy()

    def decision_function(self, X):
        """Confidence scores, as scikit-learn defines them.

        With two classes a 1-D array, ``logit(classes_[1]) - logit(classes_[0])``
        (positive: evidence for ``classes_[1]``), which is what scikit-learn's
        scorers (``roc_auc``, ``average_precision``) expect; with more
        classes the logits, one column per class. :meth:`logits` always
        gives one column per class.

        Parameters
        ----------
        X : mne.Epochs | array, shape (n_trials, n_channels, n_times)
            Trials like those at fit.

        Returns
        -------
        scores : ndarray, shape (n_trials,) or (n_trials, n_classes)

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        ValueError
            Data unlike those at fit, or not finite.
        """
        logits = self.logits(X)
        return logits[:, 1] - logits[:, 0] if logits.shape[1] == 2 else logits

    def predict_proba(self, X):
        """Class probabilities (softmax of the logits), shape (n_trials, n_classes).

        Parameters
        ----------
        X : mne.Epochs | array, shape (n_trials, n_channels, n_times)
            Trials like those at fit.

        Returns
        -------
        proba : ndarray, shape (n_trials, n_classes)
            Column ``k`` belongs to ``classes_[k]``.
        """
        scores = self.logits(X)
        scores = scores - scores.max(axis=1, keepdims=True)
        p = np.exp(scores)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X):
        """Predicted class label per trial.

        Parameters
        ----------
        X : mne.Epochs | array, shape (n_trials, n_channels, n_times)
            Trials like those at fit.

        Returns
        -------
        y_pred : ndarray, shape (n_trials,)
        """
        index = self.logits(X).argmax(axis=1)  # checks it is fitted before classes_ is read
        return self.classes_[index]

    def score(self, X, y=None, sample_weight=None):
        """Accuracy; with epochs, labels default to the event names.

        Parameters
        ----------
        X : mne.Epochs | array, shape (n_trials, n_channels, n_times)
            Trials.
        y : array, shape (n_trials,) | None
            True labels; required for array input.
        sample_weight : array | None
            Per-trial weights.

        Returns
        -------
        accuracy : float
        """
        if y is None:
            if not isinstance(X, mne.BaseEpochs):
                raise ValueError("y is required with array input.")
            self._check_fitted()
            y = epochs_to_arrays(X)[1]
        return super().score(X, y, sample_weight=sample_weight)

    # ------------------------------------------------------------- save/load
    def save(self, fname, *, overwrite=False):
        """Save the fitted classifier (configuration, weights, scaling).

        The file is written under a temporary name in the same folder and
        renamed into place, so a run killed while saving leaves any earlier
        file intact.

        Parameters
        ----------
        fname : path-like
            Output file (conventionally ``.pt``).
        overwrite : bool
            Replace an existing file (MNE's convention: off by default).

        Returns
        -------
        fname : pathlib.Path

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        FileExistsError
            ``fname`` exists and ``overwrite`` is False.
        """
        self._check_fitted()
        fname = check_output_file(fname, overwrite)
        state = {
            "params": self.get_params(),
            # CPU tensors: the file loads on any machine (no-op for a CPU model)
            "state_dict": {k: v.cpu() for k, v in self.module_.state_dict().items()},
            "fitted": {k: getattr(self, k) for k in _FITTED},
        }
        with atomic_file(fname) as tmp:
            torch.save(state, tmp)
        return fname

    @classmethod
    def load(cls, fname, *, device=None):
        """Load a classifier saved with :meth:`save`; predictions are identical.

        The file is unpickled: load only files you trust. A classifier
        trained on a GPU loads on a CPU-only machine.

        Parameters
        ----------
        fname : path-like
            A file written by :meth:`save`.
        device : "auto" | str | torch.device | None
            Where the loaded network lives, and the loaded classifier's
            ``device`` parameter. ``None``: the saved ``device`` parameter
            where that device exists here (``"auto"`` picks again on this
            machine), else the CPU, saying so in the log; the parameter is
            then kept as saved.

        Returns
        -------
        clf : EEGClassifier
            Fitted.

        Raises
        ------
        FileNotFoundError
            No such file.
        IsADirectoryError
            ``fname`` is a folder.
        ValueError
            The file is truncated, corrupt, or not a saved EEGClassifier; or
            ``device`` names a device that is not here.
        """
        import pickle
        import zipfile

        if device is not None:
            target = check_device(device)  # before reading anything
        fname = Path(fname).expanduser()
        if fname.is_dir():
            raise IsADirectoryError(f"{fname} is a folder; give a classifier file (.pt).")
        if not fname.is_file():
            raise FileNotFoundError(f"No such classifier file: {fname}")
        try:
            # onto the CPU first: a file saved from a GPU loads where there is none
            state = torch.load(fname, weights_only=False, map_location="cpu")
        except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile,
                ValueError, AttributeError, ModuleNotFoundError) as err:
            raise ValueError(
                f"{fname} could not be read as a saved EEGClassifier: it is truncated, "
                f"corrupt or another kind of file ({type(err).__name__}: {err})."
            ) from None
        if not isinstance(state, dict) or not {"params", "state_dict", "fitted"} <= set(state):
            raise ValueError(f"{fname} is not a file written by EEGClassifier.save.")
        missing = [k for k in _FITTED if k not in state["fitted"] and k not in _OPTIONAL]
        if missing:
            raise ValueError(f"{fname} lacks the fitted value(s) {missing}; save it again.")
        params = dict(state["params"])
        if device is not None:
            params["device"] = device
        else:
            try:
                target = check_device(params.get("device", "auto"))
            except (TypeError, ValueError) as err:
                logger.info(f"{fname}: {err} The classifier is loaded on the CPU.")
                target = torch.device("cpu")
        clf = cls(**params)
        for key, val in state["fitted"].items():
            setattr(clf, key, val)
        if "patterns_" not in state["fitted"]:  # saved before patterns were measured
            clf.patterns_ = None
        if "class_patterns_" not in state["fitted"]:  # saved before class patterns were kept
            clf.class_patterns_ = None
        if "tmin_" not in state["fitted"]:  # saved before the epoch start was kept
            clf.tmin_ = None
        if "model_" not in state["fitted"]:  # saved before model="auto" existed
            clf.model_, clf.model_selection_ = clf.model, None
        module = make_model(clf.model_, clf.n_channels_, clf.n_times_, len(clf.classes_),
                            clf.sfreq_, **(clf.model_params or {}))
        try:
            module.load_state_dict(state["state_dict"])
        except RuntimeError as err:
            raise ValueError(f"{fname}: the saved weights do not fit the network ({err}).") \
                from None
        clf.module_ = module.to(target).eval()
        clf.device_ = target
        return clf

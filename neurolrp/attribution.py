"""``explain``: relevance of every trial, by LRP or another attribution method."""

import copy
import json

import numpy as np
import torch
import xarray as xr
from sklearn.utils.validation import check_is_fitted

from ._checks import check_bool, check_int
from ._docs import fill_doc
from ._device import PROBE_TRIALS, auto_batch_size, check_device, module_device
from ._trials import epoch_ids, epochs_arrays, pick_eeg, read_trials
from ._utils import progress, use_log_level, verbose
from .lrp.activations import RELU_FAMILY
from .lrp.composites import GRADIENT_COMPOSITES, default_composite, get_composite
from .lrp.engine import Hooks
from .lrp.layers import prepare_model
from .lrp.patterns import compute_between_class_patterns, compute_patterns
from .lrp.rules import Pattern
from .relevance import DIMS, POS_COORDS, channel_positions, make_relevance



def _resolve_model(model):
    """(module, scale function, class names, sfreq, raw class labels) of a model."""
    from .classifier import EEGClassifier

    if isinstance(model, EEGClassifier):
        check_is_fitted(model)
        return (model.module_, model.scale, [str(c) for c in model.classes_], model.sfreq_,
                np.asarray(model.classes_))
    if isinstance(model, torch.nn.Module):
        return model, None, None, None, None
    raise TypeError(
        f"model must be a fitted neurolrp.EEGClassifier or a torch.nn.Module, got "
        f"{type(model).__name__}."
    )


def _resolve_data(data, y, model=None):
    """Array, labels, channel names, positions, times, sfreq of the input.

    The one path for the data of :func:`explain`: epochs keep their good EEG
    channels (non-EEG and bad channels are dropped, and the log says so),
    as in :class:`~neurolrp.EEGClassifier`; data must be finite and within
    float32's range; labels one per trial, never None or NaN. With a fitted
    classifier, channel names and order, sampling rate and shape are checked
    against the fit by the same function as ``predict`` (:func:`read_trials`
    reads both).
    """
    from .classifier import EEGClassifier

    fitted = model if isinstance(model, EEGClassifier) else None
    if fitted is not None:
        check_is_fitted(fitted)
    # the same reading and checks as EEGClassifier.predict's (one path, see read_trials)
    trials = read_trials(data, y, est=fitted, what="data", epochs_what="data", cast=False)
    X, y = trials.data, trials.y
    if trials.epochs is not None:
        picked = trials.epochs
        return (X, y, trials.ch_names, channel_positions(picked.info), picked.times.copy(),
                trials.sfreq)
    ch_names = [str(i) for i in range(X.shape[1])]
    times = None
    if fitted is not None:
        if fitted.ch_names_ is not None:  # arrays are read in the fitted order, as in predict
            ch_names = list(fitted.ch_names_)
        if getattr(fitted, "tmin_", None) is not None:  # timed like the epochs at fit
            times = fitted.tmin_ + np.arange(X.shape[2]) / fitted.sfreq_
    return X, y, ch_names, None, times, None


def _label_names(y, classes, raw_classes):
    """Labels as the model's class names; raise for labels that are no class.

    A label matches a class by value (``1``, ``np.int64(1)`` and ``1.0`` are
    the class 1) or by its text (the event name ``"1"`` is the class 1).
    """
    def same(v, raw):
        if isinstance(v, (str, np.str_)) or isinstance(raw, (str, np.str_)):
            return str(v) == str(raw) and isinstance(v, (str, np.str_)) == isinstance(
                raw, (str, np.str_))
        return v == raw

    raws = list(raw_classes.tolist()) if raw_classes is not None else list(classes)
    out, unknown = [], []
    for v in y:
        name = next((c for c, raw in zip(classes, raws) if same(v, raw)), None)
        if name is None and str(v) in classes:
            name = str(v)
        if name is None:
            unknown.append(str(v))
        out.append(name)
    if unknown:
        raise ValueError(
            f"The labels {sorted(set(unknown))[:10]} are not classes of the model "
            f"({classes}); y_true and correct would be wrong. Select the trials of the "
            "model's classes (epochs[classes]), pass y with the model's class names, or "
            "explain the trials as an array (epochs.get_data()) without labels."
        )
    return np.asarray(out, dtype=object)


_INT_RULE = ("An integer target names a class when the classes are numbers (integer labels, "
             "or a plain network's output indices) and is the output's position (sorted class "
             "order) when the classes are text.")


def _check_target(target, classes, raw_classes):
    """The target resolved against the classes; raise now for one that names none.

    Returns ``"predicted"``, ``"true"``, an output index, or a pair of output
    indices (a contrast ``a - b``): what :func:`_target_matrix` reads per
    batch without checking again.
    """
    if isinstance(target, list):
        raise TypeError(f"target {target!r} is a list; a contrast is a tuple (a, b).")
    if isinstance(target, tuple):
        if len(target) != 2:
            raise ValueError(f"A contrast target is a pair (a, b), got {target!r}.")
        a, b = (_class_index(t, classes, raw_classes) for t in target)
        if a == b:
            raise ValueError("A contrast needs two different classes.")
        name = f"{classes[a]}-{classes[b]}"
        same = [f"{classes[i]}-{classes[j]}" for i in range(len(classes))
                for j in range(len(classes)) if i != j and (i, j) != (a, b)]
        if name in classes or name in same:
            raise ValueError(
                f"The contrast {target!r} would be labelled {name!r}, which also names "
                + ("a class" if name in classes else "another contrast")
                + " of the model; the relevance's target could not say which was explained. "
                "Rename the classes without '-'."
            )
        return a, b
    if isinstance(target, str) and target in ("predicted", "true"):
        if target in classes:
            raise ValueError(
                f"target={target!r} is ambiguous: a class is named {target!r}. Give it by "
                f"position instead (target={classes.index(target)})."
            )
        return target
    return _class_index(target, classes, raw_classes)


def _class_index(c, classes, raw_classes):
    """Output index of the class ``c``: a class name, or an integer by the rule above."""
    k = len(classes)
    if isinstance(c, (bool, np.bool_)) or isinstance(c, (float, np.floating)):
        raise TypeError(f"target {c!r}: give a class name or an integer. {_INT_RULE}")
    if isinstance(c, (int, np.integer)):
        if raw_classes is None:  # a plain network: the classes are its output indices
            if not 0 <= c < k:
                raise ValueError(f"target index {c} is out of range for {k} outputs.")
            return int(c)
        if np.issubdtype(np.asarray(raw_classes).dtype, np.number):
            hits = [i for i, v in enumerate(np.asarray(raw_classes).tolist()) if v == c]
            if not hits:
                raise ValueError(
                    f"target {c} is not a class of the model; classes: {classes}. {_INT_RULE}")
            return hits[0]
        if not 0 <= c < k:
            raise ValueError(f"target index {c} is out of range for {k} outputs ({classes}).")
        if str(int(c)) in classes and classes.index(str(int(c))) != c:
            raise ValueError(
                f"target {c} is ambiguous: the class names {classes} are numbers written as "
                f"text, so {c} could be the class {str(int(c))!r} or the output at position "
                f"{c} ({classes[c]!r}). Give the class name as a string, e.g. "
                f"target={classes[c]!r}."
            )
        return int(c)
    if isinstance(c, str) and c in classes:
        return classes.index(c)
    raise ValueError(f"target {c!r} is not a class of the model; classes: {classes}.")


def _target_matrix(spec, logits, y_true, classes):
    """(n_trials, n_classes) selector of the explained output, and its labels.

    ``spec`` is the target as :func:`_check_target` resolved it; ``y_true``
    holds class names (checked against ``classes``).
    """
    n, k = logits.shape
    e = np.zeros((n, k), dtype=np.float32)
    if isinstance(spec, tuple):
        a, b = spec
        e[:, a], e[:, b] = 1.0, -1.0
        return e, np.array([f"{classes[a]}-{classes[b]}"] * n, dtype=object)
    if isinstance(spec, str) and spec == "predicted":
        idx = logits.argmax(axis=1)
    elif isinstance(spec, str):  # "true": labels were required before any work
        idx = np.array([classes.index(c) for c in y_true], dtype=int)
    else:
        idx = np.full(n, spec)
    e[np.arange(n), idx] = 1.0
    return e, np.array([classes[i] for i in idx], dtype=object)


@verbose
def explain(model, data, method="lrp", *, composite=None, target="predicted", y=None,
            ignore_bias=None, batch_size=None, n_steps=None, seed=None, device=None,
            verbose=None):
    """Explain every trial: a signed relevance per channel and time sample.

    One call through an :class:`Explainer` made for it; to explain trials as
    they come (an online loop), make one :class:`Explainer` and call it per
    trial: the model is then prepared once.

    Parameters
    ----------
    model : EEGClassifier | torch.nn.Module
        A fitted classifier (its input scaling is applied, and its classes
        name the outputs) or a network taking ``(batch, channels, times)``.
    data : mne.Epochs | array, shape (n_trials, n_channels, n_times) or (n_channels, n_times)
        Trials to explain; a 2-D array is one trial. With epochs, channel
        names, positions, times and labels come along; with an array
        channels and samples are numbered (or named as at fit, with a
        classifier).
    method : str
        ``"lrp"`` (Layer-wise Relevance Propagation), ``"gradient"``
        (sensitivity analysis, Simonyan et al. 2014), ``"gradient*input"``,
        ``"integrated-gradients"`` (zero baseline = the training mean after
        scaling), ``"deconvnet"`` (Zeiler and Fergus 2014),
        ``"guided-backprop"`` (Springenberg et al. 2015) or ``"random"`` (a
        seeded baseline). Deconvnet and guided backprop change the backward
        pass at ReLU-family activations (``nn.ReLU``, ``nn.ELU``,
        ``nn.LeakyReLU``) only; a network with none (ShallowNet) is refused.
    composite : str | Composite | None
        LRP only: the rules per layer; a name from ``neurolrp.lrp.COMPOSITES``
        or a :class:`~neurolrp.lrp.Composite` with LRP rules (deconvnet and
        guided backprop are methods, not LRP composites). ``None``
        (default): chosen per network by :func:`neurolrp.lrp.default_composite`,
        ``"epsilon-energy-pattern"`` for waveform networks (EEGNet: ERPs,
        slow potentials) and ``"epsilon-pattern-box"`` for band-power networks
        (ShallowNet, SturmDNN: motor imagery); why, in
        :mod:`neurolrp.lrp.composites`. ``attrs["composite"]`` records the
        one used.
    target : "predicted" | "true" | str | int | tuple
        The explained output: the predicted class, the true class, a class
        name or index, or a contrast ``("left", "right")`` that explains
        ``f_left - f_right`` ("what speaks for left rather than right").
        Integers follow one rule: when the classes are numbers (a classifier
        fitted with integer labels such as 1 and 2, or a plain network,
        whose classes are its output indices) an integer *names a class*
        (``target=1`` is the class 1, whatever its position); when the
        classes are text it is the position in the sorted class order
        (``target=0`` is the first class). An integer that could mean both
        (class names that are numbers written as text, such as ``"1"`` and
        ``"2"``) is an error: give the name as a string.
    y : array | None
        Labels of array data (or to override the epochs' event names), to
        fill ``y_true`` and ``correct``. They must be classes of the model.
        A plain network's outputs are taken to be the sorted labels when
        there are as many distinct labels as outputs (as EEGClassifier
        orders them), else its output indices.
    ignore_bias : bool | None
        LRP only. ``False`` (``None``, the default): biases (including those
        of folded batch norms) count in the rules' denominators and keep
        their share of the relevance, as in Bach et al. 2015. ``True``:
        biases are left out of the redistribution, so all relevance reaches
        the input and ``sum R = score`` up to the stabilisers.
    batch_size : int | None
        Trials per backward pass; memory grows with it, not with the number
        of trials. ``None`` (default): 32 on the CPU (the fastest per trial
        on 2 cores; larger batches leave the caches); on a GPU, as many as
        fit half the memory free now, measured by one pass over 4 trials.
    n_steps : int | None
        Integrated gradients only: integration steps (``None``: 32).
    seed : int | None
        The ``random`` method only: its seed (``None``: 0).
    device : "auto" | str | torch.device | None
        Where the passes run: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, a
        ``torch.device`` or ``"auto"`` (CUDA when present). ``None``
        (default): the model's own device (an EEGClassifier's ``device_``,
        a network's parameters). The model is not moved (the engine works on
        a copy); each batch goes to the device in turn, so memory follows
        ``batch_size``. The relevance always comes back on the CPU.
    %(verbose)s

    Returns
    -------
    relevance : xarray.DataArray
        Dims ``("trial", "channel", "time")`` with the coordinates and attrs
        described in :mod:`neurolrp.relevance`. ``trial`` holds the epochs'
        own indices (``epochs.selection``: ``explain(clf, epochs[[3, 7, 9]])``
        gives trials 3, 7 and 9, and trials dropped earlier leave gaps), so a
        map names the trial the user knows; trials of an array are numbered
        from 0. Select by that number with ``rel.sel(trial=7)``, by position
        with ``rel.isel(trial=1)``. For LRP, positive relevance is
        evidence for the target and ``conservation`` (per trial) and
        ``attrs["conservation_error"]`` give ``|sum R - score| / |score|``;
        ``attrs["conservation_error_accounted"]`` counts the share that
        biases and stabilisers keep, which a correct propagation makes
        vanish up to float precision.

    Notes
    -----
    ``mne.Epochs`` lose their non-EEG channels (stim, EOG, misc...) and the
    channels marked bad before anything is computed, as in
    :class:`~neurolrp.EEGClassifier` (the log says which). With a fitted
    classifier the channel names and their order must be those at fit:
    relevance is labelled with the channels the network actually read.

    Composites with z^B or pattern rules need the input's range and the
    layers' signal patterns. A fitted classifier measured both on its
    training data (``input_range_``, ``patterns_``); for a plain network
    ``explain`` measures them on the explained data (``attrs["patterns_from"]``
    says so). An :class:`Explainer` measures them once, on data given to it.

    Raises
    ------
    ValueError
        Unknown method or target, an option the method does not use
        (``composite`` or ``ignore_bias`` for a method other than ``"lrp"``,
        ``n_steps`` other than for ``"integrated-gradients"``, ``seed``
        other than for ``"random"``), an ambiguous integer target, data that
        do not fit the model (channel names or order, sampling rate, shape),
        labels that are no class of the model, NaN/inf or values beyond
        float32's range, ``batch_size`` or ``n_steps`` below 1, a device
        that is not here (``"cuda"`` without a GPU); for ``"deconvnet"`` and
        ``"guided-backprop"``, a network without a ReLU-family activation
        (the result would be the plain gradient: use ``"gradient"``).
    TypeError
        A model that is neither an EEGClassifier nor a torch module, or an
        argument of the wrong type.
    neurolrp.lrp.UnsupportedModelError
        (method ``"lrp"``, ``"deconvnet"``, ``"guided-backprop"``) the model
        holds a layer the engine has no rule for, named in the message;
        raised before any computation.

    See Also
    --------
    Explainer : the same, prepared once and called per trial or batch.
    """
    explainer = Explainer(model, method, composite=composite, target=target,
                          ignore_bias=ignore_bias, n_steps=n_steps, seed=seed,
                          X=_EXPLAINED_DATA, batch_size=batch_size, device=device,
                          verbose=verbose)
    try:
        return explainer.explain(data, y=y)
    finally:
        explainer._release()  # the hooked copy is freed now, not at the next collection


#: ``X`` of the Explainer that :func:`explain` makes: input bounds and patterns
#: a plain network lacks are measured on the explained data of the call.
_EXPLAINED_DATA = object()


@fill_doc
class Explainer:
    """Explain trials with one model and one method, prepared once.

    Everything :func:`explain` does that does not depend on the data is done
    here once: the method and its options are checked, the composite
    resolved and the target validated, the model copied and prepared for
    the engine (batch norms folded, rules bound with their input bounds and
    patterns, hooks installed). Each call then reads and checks the data,
    runs the forward and backward passes and packs the relevance: the same
    numbers and the same container as :func:`explain`. Made for an online
    loop that explains each trial as it comes, and for explaining several
    sets of trials with one model.

    Parameters
    ----------
    model : EEGClassifier | torch.nn.Module
        A fitted classifier or a network taking ``(batch, channels, times)``,
        as for :func:`explain`. The explainer is bound to it: it explains a
        copy, and makes a new copy when the model changes (a classifier
        fitted again, weights trained or loaded in place), so it never
        explains a network the model no longer is.
    method : str
        As for :func:`explain`: ``"lrp"`` (default), ``"gradient"``,
        ``"gradient*input"``, ``"integrated-gradients"``, ``"deconvnet"``,
        ``"guided-backprop"`` or ``"random"``.
    composite : str | Composite | None
        LRP only: the rules per layer (default: chosen per network by
        :func:`neurolrp.lrp.default_composite`, as for :func:`explain`).
    target : "predicted" | "true" | str | int | tuple
        The explained output, as for :func:`explain`. Checked against a
        classifier's classes here; for a plain network at the first call
        (its classes are its output indices, or the labels given with the
        data, as in :func:`explain`).
    ignore_bias : bool | None
        LRP only: leave biases out of the redistribution (default: False).
    n_steps : int | None
        Integrated gradients only: integration steps (default: 32).
    seed : int | None
        The ``random`` method only: its seed (default: 0). Every call draws
        from the start of the seed's sequence, as :func:`explain` does.
    X : mne.Epochs | array, shape (n_trials, n_channels, n_times) | None
        Data to measure the input bounds (z^B rules) and signal patterns
        (pattern rules) on, where the composite needs them and the model
        has none stored: a plain network, or a classifier saved before it
        kept them. Give data like the training data (many trials), not the
        trial being explained. A fitted classifier has both from its
        training data and needs no ``X``. Refused where nothing is measured
        from it.
    batch_size : int | None
        Trials per backward pass, as for :func:`explain`.
    device : "auto" | str | torch.device | None
        Where the passes run, as for :func:`explain` (default: the model's
        device). The model is not moved.
    %(verbose)s

    Attributes
    ----------
    model : EEGClassifier | torch.nn.Module
        The model it explains (read-only: an explainer is bound to one model).
    method : str
        The method's name.
    device : torch.device
        Where the passes run.

    Raises
    ------
    ValueError
        As :func:`explain`, for what does not depend on the data (unknown
        method or target, an option the method does not use, a device that
        is not here, a network a method cannot explain); a composite that
        needs input bounds or patterns for a model that has none stored,
        without ``X``; ``X`` where nothing is measured from it.
    TypeError
        A model that is neither an EEGClassifier nor a torch module, or an
        argument of the wrong type.
    neurolrp.lrp.UnsupportedModelError
        A layer the engine has no rule for (methods ``"lrp"``,
        ``"deconvnet"``, ``"guided-backprop"``).

    See Also
    --------
    explain : one call, for trials at hand.

    Notes
    -----
    Each call checks its data against the model as :func:`explain` does
    (channel names and order, sampling rate and shape against the fit;
    finite values), so a wrong recording is refused on every call, also
    after good ones. An explainer holds a prepared copy of the network and
    state for one call at a time: use one per thread.

    For a plain network :func:`explain` measures the input bounds and the
    patterns on the data it explains; an explainer measures them once, on
    ``X``. The two agree when ``X`` is the explained data; on one trial
    they would be measured on that trial alone, which is why an explainer
    asks for ``X`` instead.

    Examples
    --------
    Explain each trial of a stream as it comes::

        explainer = neurolrp.Explainer(clf)
        for trial in stream:  # arrays (n_channels, n_times)
            rel = explainer(trial)
            print(rel.y_pred.item(), float(abs(rel).max()))
    """

    def __init__(self, model, method="lrp", *, composite=None, target="predicted",
                 ignore_bias=None, n_steps=None, seed=None, X=None, batch_size=None,
                 device=None, verbose=None):
        if batch_size is not None:
            batch_size = check_int(batch_size, "batch_size", low=1)
        self._method = _make_method(method, composite=composite, ignore_bias=ignore_bias,
                                    n_steps=n_steps, seed=seed)  # raises now for bad options
        self._model, self._target, self._batch_size = model, target, batch_size
        self._device_arg, self._verbose = device, verbose
        self._X = X
        self._prepare()

    # ------------------------------------------------------------ once per model
    def _prepare(self):
        """Everything that depends on the model and not on the data."""
        model = self._model
        module, scale, classes, sfreq, raw_classes = _resolve_model(model)
        method = self._method
        method.check_model(module)  # raises before any work
        device = (module_device(module) if self._device_arg is None
                  else check_device(self._device_arg))
        if classes is not None:  # a classifier: its classes are known, so is the target
            spec = _check_target(self._target, classes, raw_classes)
        else:  # a plain network: checked once its outputs are known (first call)
            _check_target_form(self._target)
        needs = method.data_needs(model)
        calibrate = self._X is _EXPLAINED_DATA and bool(needs)
        if self._X is None and needs:
            instead = ("fit the classifier again (it measures both at fit; this one was saved "
                       "before it did)" if classes is not None else
                       "explain a fitted neurolrp.EEGClassifier (it measures both at fit)")
            raise ValueError(
                f"{_describe_method(method)} needs {' and '.join(needs)}, which "
                f"{_describe_model(model)} does not store. Pass X= (data like the training "
                f"data, e.g. the training epochs) to measure them on once, {instead}, or "
                "choose a composite without z^B and pattern rules (e.g. composite='epsilon')."
            )
        if self._X is not None and self._X is not _EXPLAINED_DATA and not needs:
            raise ValueError(
                f"X is used to measure the input bounds and patterns a composite needs where "
                f"the model has none stored; {_describe_method(method)} needs nothing from "
                f"data for {_describe_model(model)}. Leave X out."
            )
        if method.needs_engine:
            net, linear_names = prepare_model(module)  # raises before any work
            net = net.to(device)  # the copy moves; the user's model stays where it is
        elif (self._X is _EXPLAINED_DATA and not module.training
              and module_device(module) == device):
            # explain(): one call that hooks, moves and changes nothing; a copy would cost
            # as much as a one-trial pass
            net, linear_names = module, None
        else:  # a copy in eval mode, on the device: the user's model stays as it is
            net, linear_names = copy.deepcopy(module).eval().to(device), None
        param = next(net.parameters(), None)
        self._dtype = (np.float32 if param is None
                       else torch.empty(0, dtype=param.dtype).numpy().dtype)
        self._module, self._scale, self._sfreq = module, scale, sfreq
        self._classes, self._raw_classes = classes, raw_classes
        self._spec = spec if classes is not None else None
        self._specs = {}  # a plain network's target per class list
        self._net, self._linear_names, self._device = net, linear_names, device
        self._calibrate = calibrate
        self._shapes = {}  # trial shape -> number of outputs, from one probe pass each
        self._templates = {}  # the relevance's fixed coordinates, per channels and times
        self._weights_state = _weights_version(model)
        self._attrs = {"method": method.name, "target": _target_text(self._target),
                       "model": type(module).__name__,
                       "sfreq": float(sfreq) if sfreq else float("nan")}
        if not isinstance(model, torch.nn.Module):
            self._attrs["model_params"] = json.dumps(model.get_params(), default=str)
            if getattr(model, "model_selection_", None):  # model="auto": what it chose between
                self._attrs["model_selection"] = json.dumps(model.model_selection_)
        if not calibrate:
            X = y_X = None
            if self._X is not None and self._X is not _EXPLAINED_DATA:
                X, y_X = _resolve_data(self._X, None, model)[:2]  # epochs carry their labels
            method.setup(model=model, module=module, net=net, linear_names=linear_names, X=X,
                         scale=scale, X_name="the Explainer's X",
                         y=None if y_X is None else np.asarray(y_X).astype(str))

    def _release(self):
        """Remove the hooks from the prepared copy (it is then freed by reference counting)."""
        self._method.release()

    # ---------------------------------------------------------------- per call
    @property
    def model(self):
        """The model it explains (an explainer is bound to one)."""
        return self._model

    @property
    def method(self):
        """The method's name."""
        return self._method.name

    @property
    def device(self):
        """Where the passes run (``torch.device``)."""
        return self._device

    def __call__(self, data, y=None):
        """Explain ``data``; see :meth:`explain`."""
        return self.explain(data, y=y)

    def explain(self, data, y=None):
        """Relevance of every trial of ``data``.

        Parameters
        ----------
        data : mne.Epochs | array, shape (n_trials, n_channels, n_times) or (n_channels, n_times)
            Trials to explain; a 2-D array (or tensor) is one trial.
        y : array | str | int | None
            Labels, to fill ``y_true`` and ``correct`` (one per trial; for a
            single 2-D trial a single label), as for :func:`explain`.

        Returns
        -------
        relevance : xarray.DataArray
            As :func:`explain` returns it, dims ``("trial", "channel",
            "time")``; one trial gives a ``trial`` dim of length 1
            (``rel[0]`` is its map).

        Raises
        ------
        ValueError
            Data that do not fit the model (channel names or order, sampling
            rate, shape), labels that are no class of the model, NaN/inf,
            ``target="true"`` without labels; a target that is no output of
            a plain network.
        """
        if self._verbose is None:  # the caller's level, as @verbose does
            return self._explain(data, y)
        with use_log_level(self._verbose):
            return self._explain(data, y)

    def _explain(self, data, y):
        if self._stale():  # fitted again, or weights changed in place: a fresh copy
            self._release()
            self._prepare()
        model, method, scale = self._model, self._method, self._scale
        data, y = _one_trial_as_batch(data, y)
        X, y_true, ch_names, ch_pos, times, sfreq = _resolve_data(data, y, model)
        # trials keep the epochs' own numbers (picking channels keeps them); arrays count from 0
        trial_ids = epoch_ids(data, len(X)) if hasattr(data, "selection") else None
        if self._sfreq is not None:
            sfreq = self._sfreq
        if times is None:
            times = np.arange(X.shape[2]) / sfreq if sfreq else np.arange(X.shape[2], dtype=float)
        n_outputs = self._probe(X)
        classes, raw_classes = self._classes, self._raw_classes
        if classes is None:
            classes = [str(i) for i in range(n_outputs)]
            if y_true is not None:
                labels = np.unique(y_true)  # sorted as EEGClassifier sorts them
                if len(labels) == n_outputs:
                    classes, raw_classes = [str(v) for v in labels], labels
        if y_true is not None:
            y_true = _label_names(y_true, classes, raw_classes)
        spec = self._spec if self._spec is not None else self._plain_target(classes, raw_classes)
        if isinstance(spec, str) and spec == "true" and y_true is None:
            raise ValueError("target='true' needs labels: explain mne.Epochs or pass y.")
        net, device, dtype = self._net, self._device, self._dtype
        if self._calibrate:  # explain() on a plain network: measured on the explained data
            method.setup(model=model, module=self._module, net=net,
                         linear_names=self._linear_names, X=X, scale=scale,
                         X_name="explained data",
                         y=None if y_true is None else np.asarray(y_true).astype(str))
        method.bind(model=model, module=self._module, net=net, linear_names=self._linear_names,
                    X=X, scale=scale)

        out = np.empty(X.shape, dtype=np.float32)
        scores = np.empty(len(X), dtype=np.float64)
        y_pred = np.empty(len(X), dtype=object)
        target_names = np.empty(len(X), dtype=object)

        def batch(sl):
            """Scaled input of the trials ``sl`` (per batch: memory follows the batch)."""
            xb = scale(X[sl]) if scale is not None else X[sl]
            return torch.from_numpy(np.ascontiguousarray(xb, dtype=dtype)).to(device)

        def select(logit, sl):
            """The batch's output selector; fills predictions and target names."""
            lg = logit.detach().cpu().numpy()
            y_pred[sl] = [classes[i] for i in lg.argmax(axis=1)]
            e, target_names[sl] = _target_matrix(
                spec, lg, None if y_true is None else y_true[sl], classes)
            return torch.from_numpy(e).to(device=logit.device, dtype=logit.dtype)

        def run(sl):
            x = batch(sl).requires_grad_(True)
            logit, e, R = method.relevance(net, x, lambda lg: select(lg, sl), sl)
            out[sl] = R.detach().cpu().numpy()
            scores[sl] = (logit.detach() * e).sum(1).cpu().numpy()

        batch_size = self._batch_size
        if batch_size is None and len(X) <= PROBE_TRIALS:
            batch_size = len(X)  # what a GPU's probe would run: one pass, not two
        if batch_size is None:  # the probe's results are overwritten by the run below
            batch_size = auto_batch_size(device, len(X), lambda k: run(slice(0, k)))
        batches = range(0, len(X), batch_size)
        if len(batches) > 1:
            batches = progress(batches, f"Explaining ({method.name})", total=len(batches),
                               verbose=self._verbose)
        for start in batches:
            run(slice(start, start + batch_size))

        attrs = {**self._attrs, "classes": list(classes), "conservation_error": float("nan")}
        conservation = method.finish(out, scores, attrs)
        return self._pack(
            out, channels=ch_names, times=times, y_pred=y_pred, target=target_names,
            score=scores,
            y_true=None if y_true is None else np.asarray([str(v) for v in y_true], dtype=object),
            ch_pos=ch_pos, trial=trial_ids, conservation=conservation, attrs=attrs,
        )

    def _pack(self, out, *, channels, times, ch_pos, trial, y_pred, target, score, y_true,
              conservation, attrs):
        """The relevance container, as :func:`~neurolrp.relevance.make_relevance` makes it.

        The first call for given channels, times and positions goes through
        ``make_relevance`` (validated) and keeps a copy of its result; later
        calls fill the trials' values into that one's coordinates (measured
        on one trial: xarray's coordinate handling cost about one
        ``predict``; a shallow copy with new values costs a fifth).
        """
        key = (tuple(channels), np.asarray(times, dtype=np.float64).tobytes(),
               None if ch_pos is None else np.asarray(ch_pos, dtype=np.float64).tobytes(),
               y_true is None, conservation is None)
        kept = self._templates.get(key)
        if kept is None:
            rel = make_relevance(out, channels=channels, times=times, y_pred=y_pred,
                                 target=target, score=score, y_true=y_true, ch_pos=ch_pos,
                                 trial=trial, conservation=conservation, attrs=attrs)
            # its coordinates, ours (the caller may change rel); no data (zero strides)
            self._templates[key] = rel.copy(deep=True, data=np.broadcast_to(
                np.float32(0), rel.shape))
            return rel
        if not np.isfinite(out).all():
            raise ValueError("relevance holds NaN or infinite values.")
        ids = np.arange(len(out)) if trial is None else np.asarray(trial, dtype=np.int64)
        values = {"y_pred": np.asarray(y_pred, dtype=object),
                  "target": np.asarray(target, dtype=object),
                  "score": np.asarray(score, dtype=np.float32)}
        if y_true is not None:
            values["y_true"] = np.asarray(y_true, dtype=object)
            values["correct"] = values["y_true"] == values["y_pred"]
        if conservation is not None:
            values["conservation"] = np.asarray(conservation, dtype=np.float32)
        kept_vars = kept.coords.variables  # (variables: no DataArray made per coordinate)
        for name in POS_COORDS:  # each result its own copy: no result writes into another
            values[name] = kept_vars[name].values.copy()
        full_attrs = {"method": "", "sfreq": np.nan, "conservation_error": np.nan, **attrs,
                      "neurolrp_version": kept.attrs["neurolrp_version"]}
        if np.array_equal(kept_vars["trial"].values, ids):  # the same trials (one of an array)
            rel = kept.copy(deep=False, data=out)  # new variables sharing the kept arrays...
            rel_vars = rel.coords.variables
            for name, val in values.items():  # ... which get the new values
                rel_vars[name].values = val
            rel.attrs = full_attrs
            return rel
        # other trials: the kept channel and time coordinates, the trials' own
        trial_coord = xr.Coordinates({"trial": ids})
        coords = {}
        for name, var in kept.coords.items():  # make_relevance's order
            if name == "trial":
                coords[name] = trial_coord.variables["trial"]
            elif name in values:
                coords[name] = xr.Variable(var.dims, values[name])
            else:
                coords[name] = var.variable
        return xr.DataArray(out, dims=DIMS, name="relevance", attrs=full_attrs,
                            coords=xr.Coordinates(coords, indexes={
                                "trial": trial_coord.xindexes["trial"],
                                "channel": kept.xindexes["channel"],
                                "time": kept.xindexes["time"]}))

    def _stale(self):
        """Whether the model changed since it was prepared (refit, or weights changed)."""
        return _weights_version(self._model) != self._weights_state

    def _probe(self, X):
        """Outputs of the network for trials shaped like ``X``'s (one pass per new shape)."""
        key = (X.shape[1:], X.dtype)
        if key not in self._shapes:
            scale = self._scale
            x = scale(X[:1]) if scale is not None else X[:1]
            x = torch.from_numpy(np.ascontiguousarray(x, dtype=self._dtype)).to(self._device)
            with torch.no_grad():
                try:  # one trial, to check the model takes the data before any work
                    probe = self._net(x).cpu().numpy()
                except RuntimeError as err:
                    raise ValueError(
                        f"The model cannot take data of shape {X.shape[1:]}: {err}") from None
            if probe.ndim != 2:
                raise ValueError(
                    f"The model must return (batch, n_classes) scores, got {probe.shape}.")
            self._shapes[key] = probe.shape[1]
        return self._shapes[key]

    def _plain_target(self, classes, raw_classes):
        """A plain network's target, checked once per set of classes."""
        key = (tuple(classes), None if raw_classes is None else tuple(raw_classes.tolist()))
        if key not in self._specs:
            self._specs[key] = _check_target(self._target, classes, raw_classes)
        return self._specs[key]

    def __repr__(self):
        return (f"Explainer({_describe_model(self._model)}, method={self.method!r}, "
                f"device='{self._device}')")


def _make_method(method, **options):
    """The method's object with the options it takes; raise for any other option given."""
    if not isinstance(method, str) or method not in REGISTRY:
        raise ValueError(f"method must be one of {tuple(REGISTRY)}, got {method!r}.")
    cls = REGISTRY[method]
    given = {k: v for k, v in options.items() if v is not None}
    for key, val in given.items():
        if key not in cls.options:
            users = [repr(m) for m, c in REGISTRY.items() if key in c.options]
            takes = f"takes {', '.join(cls.options)}" if cls.options else "takes no options"
            raise ValueError(
                f"{key}={val!r} does not apply to method={method!r} (it {takes}); {key} is "
                f"an option of method={' or '.join(users)}. Leave it out."
            )
    return cls(**given)


def _check_target_form(target):
    """Raise now for a target no network could have (before its outputs are known)."""
    if isinstance(target, list):
        raise TypeError(f"target {target!r} is a list; a contrast is a tuple (a, b).")
    if isinstance(target, tuple) and len(target) != 2:
        raise ValueError(f"A contrast target is a pair (a, b), got {target!r}.")
    for t in target if isinstance(target, tuple) else (target,):
        if isinstance(t, (bool, np.bool_)) or isinstance(t, (float, np.floating)):
            raise TypeError(f"target {t!r}: give a class name or an integer. {_INT_RULE}")


def _one_trial_as_batch(data, y):
    """A 2-D array or tensor (one trial) as a batch of one, with its label."""
    if hasattr(data, "info"):  # mne.Epochs
        return data, y
    if torch.is_tensor(data):
        if data.dim() != 2:
            return data, y
        data = data[None]
    else:
        try:
            if np.ndim(data) != 2:
                return data, y
        except ValueError:  # ragged: read_trials says what is wrong
            return data, y
        data = np.asarray(data)[None]
    if y is not None and np.ndim(y) == 0:
        y = [y]
    return data, y


def _weights_version(model):
    """Identity of the network and the in-place version of each of its tensors.

    Changes when a classifier is fitted again (a new ``module_``) and when a
    weight or buffer is changed in place (an optimiser step,
    ``load_state_dict``): cheap enough to check on every call.
    """
    module = model if isinstance(model, torch.nn.Module) else getattr(model, "module_", None)
    if module is None:
        return None
    return (id(module), *(t._version for t in module.parameters()),
            *(t._version for t in module.buffers()))


def _describe_method(method):
    if isinstance(method, LRP):
        return f"The composite {method.composite.name!r}"
    return f"method={method.name!r}"


def _describe_model(model):
    if isinstance(model, torch.nn.Module):
        return f"the plain network {type(model).__name__}"
    return f"the {type(model).__name__}"


def _default_composite(module):
    """The composite LRP uses for ``module`` when none is given: the one place it is chosen.

    Chosen by the network's family (:func:`~neurolrp.lrp.default_composite`):
    waveform networks (EEGNet) get ``"epsilon-energy-pattern"``, band-power
    networks (ShallowNet, SturmDNN) ``"epsilon-pattern-box"``. The name is
    recorded in the relevance's ``attrs["composite"]``.
    """
    return _lrp_composite(default_composite(module))


def _target_text(target):
    return "-".join(map(str, target)) if isinstance(target, tuple) else str(target)


# ------------------------------------------------------------------ methods
#: Method name -> class; :func:`explain` looks methods up here.
REGISTRY = {}


def register(cls):
    """Add a :class:`Method` subclass to the registry under its ``name``."""
    REGISTRY[cls.name] = cls
    return cls


class Method:
    """One attribution method: what :func:`explain` computes for a batch of trials.

    A new method is one subclass with a ``name``, registered with
    :func:`register`; :class:`Explainer` (and so :func:`explain`) does the
    rest (checks, batches, the device, targets, the relevance container).

    An :class:`Explainer` calls, in this order: :meth:`check_model` and
    :meth:`setup` once per model; :meth:`bind` and :meth:`finish` once per
    call; :meth:`relevance` once per batch.

    Parameters
    ----------
    **options
        The options the method takes (those named in ``options``); the
        subclasses document theirs. Any other is refused.

    Attributes
    ----------
    name : str
        What ``explain(..., method=name)`` calls it.
    options : tuple of str
        The options of :func:`explain` that the method takes; :func:`explain`
        refuses the others for it.
    needs_engine : bool
        Whether the model goes through :func:`~neurolrp.lrp.prepare_model`
        (supported layers only, batch norms folded), as for the methods that
        change the backward pass.
    """

    name = None
    options = ()
    needs_engine = False

    def __init__(self, **options):
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise ValueError(f"method={self.name!r} takes no option(s) {unknown}.")

    def check_model(self, module):
        """Raise if the method cannot explain the network ``module`` (before any work)."""

    def data_needs(self, model):
        """What :meth:`setup` must measure on data for ``model`` (empty: nothing)."""
        return []

    def setup(self, *, model, module, net, linear_names, X, scale, X_name=None, y=None):
        """Prepare for a model, once: the prepared copy ``net`` is this method's to hook.

        ``X`` holds the data to measure what :meth:`data_needs` names (None
        when nothing is needed), ``X_name`` what the attrs call them, ``y``
        their labels where known; ``scale`` maps data to the network's input.
        """
        self.net, self.linear_names = net, linear_names

    def release(self):
        """Undo what :meth:`setup` installed on the network (its hooks)."""

    def bind(self, *, model, module, net, linear_names, X, scale):
        """Prepare for one call, once the data ``X`` are known and checked."""
        self.net, self.linear_names = net, linear_names

    def relevance(self, net, x, select, sl):
        """``(logit, e, R)`` of the batch ``x`` (trials ``sl``).

        ``select(logit)`` gives the output selector ``e`` (one row per trial)
        and records predictions and targets; ``R`` is shaped like ``x``.
        """
        raise NotImplementedError

    def finish(self, out, scores, attrs):
        """Add the method's attrs; return the per-trial conservation error or None."""
        return None


@register
class LRP(Method):
    """Layer-wise Relevance Propagation: the composite's rules in one modified backward pass.

    Parameters
    ----------
    composite : str | Composite | None
        The rules per layer (None: chosen for the network by
        :func:`~neurolrp.lrp.default_composite`).
    ignore_bias : bool | None
        Leave biases out of the redistribution (None: False).
    """

    name = "lrp"
    options = ("composite", "ignore_bias")
    needs_engine = True

    def __init__(self, *, composite=None, ignore_bias=None):
        super().__init__()
        self.ignore_bias = check_bool(False if ignore_bias is None else ignore_bias,
                                      "ignore_bias")
        # a given composite is resolved (and checked) now, the default once the network is known
        self.composite = None if composite is None else _lrp_composite(composite)
        self._given = self.composite
        self.hooks = None

    def check_model(self, module):
        self.composite = self._given if self._given is not None else _default_composite(module)

    def data_needs(self, model):
        needs = []
        if self.composite.needs_input_bounds() and getattr(model, "input_range_", None) is None:
            needs.append("the input's range (for its z^B rules)")
        if self.composite.needs_patterns() and getattr(model, "patterns_", None) is None:
            needs.append("the layers' signal patterns (for its pattern rules)")
        elif (self.composite.needs_class_patterns()
              and getattr(model, "class_patterns_", None) is None):
            needs.append("the layers' between-class patterns (for its pattern rules on the "
                         "class means)")
        return needs

    def setup(self, *, model, module, net, linear_names, X, scale, X_name=None, y=None):
        super().setup(model=model, module=module, net=net, linear_names=linear_names, X=X,
                      scale=scale)
        comp = self.composite
        Xs = None if X is None else (scale(X) if scale is not None else X)
        if comp.needs_input_bounds():
            box = getattr(model, "input_range_", None)
            if box is None:  # a plain network: the range of the data given
                box = (float(Xs.min()), float(Xs.max()))
            comp = comp.with_input_bounds(*box)
        if self.ignore_bias:
            comp = comp.without_bias()
        layers = [(n, net.get_submodule(n)) for n in linear_names]
        self.patterns_from = self.class_patterns_from = None
        if comp.needs_patterns():
            patterns = getattr(model, "patterns_", None)
            self.patterns_from = "training data"
            if patterns is None:  # a plain network: the patterns of the data given
                patterns = compute_patterns(module, Xs, layers=_unbound(comp, layers, "total"))
                self.patterns_from = X_name
            class_patterns = getattr(model, "class_patterns_", None)
            self.class_patterns_from = "training data"
            if class_patterns is None and comp.needs_class_patterns():
                # a plain network (or X given): the data given, grouped by their labels as
                # at fit, or else by the class the network predicts
                groups, by = (y, "label") if y is not None else (
                    _predicted_classes(net, Xs), "predicted class")
                if len(np.unique(groups)) < 2:
                    raise ValueError(
                        f"{_describe_method(self)} needs between-class patterns, measured on "
                        f"{X_name} grouped by {by}, and all of it is of one {by}. Explain a "
                        "fitted neurolrp.EEGClassifier (it measures them at fit), give data "
                        "of several classes (with y= for a plain network), or choose another "
                        "composite (e.g. composite='epsilon').")
                class_patterns = compute_between_class_patterns(
                    module, Xs, groups, layers=_unbound(comp, layers, "between"))
                self.class_patterns_from = f"{X_name}, by {by}"
            comp = comp.with_patterns(patterns, layers, class_patterns)
        self.comp = comp
        self.rules_json = comp.describe(layers)
        self.release()
        # installed once: each pass only clears what the rules absorbed
        self.hooks = Hooks(net, linear_names, comp)

    def release(self):
        if self.hooks is not None:
            self.hooks.remove()
            self.hooks = None

    def bind(self, *, model, module, net, linear_names, X, scale):
        super().bind(model=model, module=module, net=net, linear_names=linear_names, X=X,
                     scale=scale)
        self.accounted = np.zeros(len(X), dtype=np.float64)

    def relevance(self, net, x, select, sl):
        absorbed = self.hooks.absorbed
        absorbed.clear()
        logit = net(x)
        e = select(logit)
        (R,) = torch.autograd.grad(logit, x, grad_outputs=logit.detach() * e)
        kept = torch.stack(absorbed).sum(0) if absorbed else 0.0
        absorbed.clear()
        self.accounted[sl] = (R.sum(dim=(1, 2)) + kept).detach().cpu().numpy()
        return logit, e, R

    def finish(self, out, scores, attrs):
        denom = np.maximum(np.abs(scores), 1e-12)
        conservation = np.abs(out.sum(axis=(1, 2), dtype=np.float64) - scores) / denom
        if any(isinstance(r, Pattern) for r in self.comp.rules()):
            attrs["patterns_from"] = self.patterns_from
        if any(isinstance(r, Pattern) and r.signal == "between" for r in self.comp.rules()):
            attrs["class_patterns_from"] = self.class_patterns_from
        attrs.update({
            "composite": self.comp.name, "rules": self.rules_json,
            "conservation_error": float(conservation.max()),
            "conservation_error_accounted": float(
                (np.abs(self.accounted - scores) / denom).max()),
        })
        return conservation


def _unbound(comp, layers, signal):
    """Names of the layers whose Pattern rule on ``signal`` in ``comp`` lacks its pattern."""
    return [n for n, r in comp.assign(layers).items()
            if isinstance(r, Pattern) and r.pattern is None and r.signal == signal]


def _predicted_classes(net, X, batch_size=64):
    """Index of the output ``net`` (prepared, in eval mode) ranks first, per trial of ``X``."""
    param = next(net.parameters())
    out = []
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            xb = torch.as_tensor(np.asarray(X[start:start + batch_size]), dtype=param.dtype,
                                 device=param.device)
            out.append(net(xb).argmax(1).cpu().numpy())
    return np.concatenate(out)


def _lrp_composite(composite):
    """``composite`` as a Composite with LRP rules; raise now for anything else."""
    comp = get_composite(composite)
    if not comp.is_lrp:
        raise ValueError(f"Composite {comp.name!r} has no LRP rules (its linear layers would "
                         "keep their gradient); LRP needs one for every linear layer. For "
                         "deconvnet or guided backprop use method='deconvnet' or "
                         "'guided-backprop'.")
    return comp


@register
class Gradient(Method):
    """Sensitivity analysis (Simonyan et al. 2014): the gradient of the target."""

    name = "gradient"

    def relevance(self, net, x, select, sl):
        logit = net(x)
        e = select(logit)
        (g,) = torch.autograd.grad(logit, x, grad_outputs=e)
        return logit, e, g


@register
class GradientTimesInput(Gradient):
    """Gradient x input."""

    name = "gradient*input"

    def relevance(self, net, x, select, sl):
        logit, e, g = super().relevance(net, x, select, sl)
        return logit, e, g * x.detach()


class _ModifiedGradient(Gradient):
    """The gradient with another backward through the ReLU-family activations.

    The method's composite (from ``GRADIENT_COMPOSITES``, under the method's
    name) puts an activation rule on ``nn.ReLU``, ``nn.ELU`` and
    ``nn.LeakyReLU``; every other layer keeps its gradient. Its hooks are
    installed once, in :meth:`setup`; the pass is the gradient's.
    """

    needs_engine = True

    def __init__(self, **options):
        super().__init__(**options)
        self.hooks = None

    def check_model(self, module):
        if not any(isinstance(m, RELU_FAMILY) for m in module.modules()):
            raise ValueError(
                f"{type(module).__name__} has no ReLU-family activation (nn.ReLU, nn.ELU, "
                f"nn.LeakyReLU), so {self.name} would be the plain gradient. Use "
                "method='gradient' (or a network with such activations, e.g. EEGNet).")

    def setup(self, **kwargs):
        super().setup(**kwargs)
        self.comp = GRADIENT_COMPOSITES[self.name]()
        self.release()
        self.hooks = Hooks(kwargs["net"], kwargs["linear_names"], self.comp)

    def release(self):
        if self.hooks is not None:
            self.hooks.remove()
            self.hooks = None


@register
class IntegratedGradients(Method):
    """Integrated gradients (Sundararajan et al. 2017), zero baseline, midpoint rule.

    Parameters
    ----------
    n_steps : int | None
        Integration steps (None: 32).
    """

    name = "integrated-gradients"
    options = ("n_steps",)

    def __init__(self, *, n_steps=None):
        super().__init__()
        self.n_steps = check_int(32 if n_steps is None else n_steps, "n_steps", low=1)

    def relevance(self, net, x, select, sl):
        with torch.no_grad():
            logit = net(x)
        e = select(logit)
        total = torch.zeros_like(x)
        for alpha in (np.arange(self.n_steps) + 0.5) / self.n_steps:
            xa = (x.detach() * float(alpha)).requires_grad_(True)
            (g,) = torch.autograd.grad(net(xa), xa, grad_outputs=e)
            total += g
        return logit, e, x.detach() * total / self.n_steps


@register
class Deconvnet(_ModifiedGradient):
    """Deconvnet (Zeiler and Fergus 2014): ReLU-family activations rectify the backward signal.

    At every ``nn.ReLU``, ``nn.ELU`` and ``nn.LeakyReLU`` the backward passes
    ``max(g, 0)`` whatever the layer's input was (on an ELU as on a ReLU; see
    :class:`~neurolrp.lrp.activations.Rectify`); every other layer keeps its
    gradient.
    """

    name = "deconvnet"


@register
class GuidedBackprop(_ModifiedGradient):
    """Guided backprop (Springenberg et al. 2015): the gradient, with only positive signals
    passed back through the ReLU-family activations.

    At every ``nn.ReLU``, ``nn.ELU`` and ``nn.LeakyReLU`` the backward passes
    ``max(g, 0) * f'(x)`` (see :class:`~neurolrp.lrp.activations.Guided`):
    for a ReLU, only where its input was positive; for an ELU, ``f'(x) =
    alpha * exp(x)`` where its input was negative, so a damped positive
    signal still crosses there. Every other layer keeps its gradient.
    """

    name = "guided-backprop"


@register
class Random(Method):
    """A seeded random baseline (standard normal relevance).

    Parameters
    ----------
    seed : int | None
        Seed (None: 0). Each call draws from the start of its sequence.
    """

    name = "random"
    options = ("seed",)

    def __init__(self, *, seed=None):
        super().__init__()
        self.seed = check_int(0 if seed is None else seed, "seed", low=0)

    def bind(self, **kwargs):
        super().bind(**kwargs)
        # drawn for all trials at once: a trial's numbers do not depend on the batches
        self.values = np.random.default_rng(self.seed).standard_normal(
            kwargs["X"].shape).astype(np.float32)

    def relevance(self, net, x, select, sl):
        with torch.no_grad():
            logit = net(x)
        e = select(logit)
        return logit, e, torch.from_numpy(self.values[sl])


METHODS = tuple(REGISTRY)


def explain_out_of_fold(cv_result, epochs, model="shallow", **kwargs):
    """Explain every trial with the network that did not train on it.

    Parameters
    ----------
    cv_result : CVResult
        From :func:`neurolrp.cross_validate` on ``epochs``.
    epochs : mne.Epochs
        The same epochs.
    model : str
        Which cross-validated network to explain.
    **kwargs
        Passed to :func:`explain` (``composite``, ``target``, ``method``...).

    Returns
    -------
    relevance : xarray.DataArray
        All trials, in the order of ``epochs``; ``trial`` holds the epochs'
        own indices (``epochs.selection``, as :func:`explain` and
        ``cv_result.predictions`` number them);
        ``attrs["conservation_error"]`` is the largest over folds. A text
        attribute that differs between folds (``model``, ``rules`` and
        ``model_selection`` when ``model="auto"`` chose different networks)
        is a JSON list with one entry per fold.
    """
    from .decoding import CVResult

    if not isinstance(cv_result, CVResult):
        raise TypeError(f"cv_result must be what neurolrp.cross_validate returns, got "
                        f"{type(cv_result).__name__}.")
    if model not in cv_result.estimators or model == "csp+lda":
        nets = [m for m in cv_result.estimators if m != "csp+lda"]
        raise ValueError(f"No cross-validated network {model!r}; have {nets}.")
    epochs = pick_eeg(epochs, "epochs")  # once, not per fold
    n_cv = sum(len(test) for _, test in cv_result.folds)
    # in the epochs' order (rows are kept in it; trial numbers need not be sorted)
    preds = cv_result.predictions[cv_result.predictions.model == model]
    y = epochs_arrays(epochs)[1] if len(epochs) == n_cv else None
    if y is None or not np.array_equal(preds.y_true.astype(str).values, y.astype(str)):
        raise ValueError(
            f"epochs must be the epochs that were cross-validated ({n_cv} trials with the same "
            f"labels); got {len(epochs)} trials"
            + ("" if y is None else " with other labels") + "."
        )
    ids = epoch_ids(epochs)  # of all epochs at once, as cross_validate numbers them
    parts, positions = [], []
    kwargs.setdefault("verbose", False)
    for est, (_, test) in zip(cv_result.estimators[model], cv_result.folds):
        parts.append(explain(est, epochs[test], **kwargs).assign_coords(trial=ids[test]))
        positions.append(np.asarray(test))
    rel = xr.concat(parts, dim="trial", combine_attrs="override")
    # back into the epochs' order by position: the epochs' indices need not be sorted
    rel = rel.isel(trial=np.argsort(np.concatenate(positions), kind="stable"))
    for key in ("conservation_error", "conservation_error_accounted"):
        if key in rel.attrs:
            rel.attrs[key] = float(max(p.attrs[key] for p in parts))
    # folds can differ in what they explain (model="auto" may choose another network per
    # fold): such a text attribute becomes a JSON list, one entry per fold, not fold 1's
    for key, val in parts[0].attrs.items():
        per_fold = [p.attrs.get(key) for p in parts]
        if isinstance(val, str) and any(v != val for v in per_fold):
            rel.attrs[key] = json.dumps(per_fold)
    rel.attrs["out_of_fold"] = len(parts)
    rel.attrs["in_sample"] = 0  # every trial explained by a network that never trained on it
    return rel

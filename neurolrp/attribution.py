"""``explain``: relevance of every trial, by LRP or another attribution method."""

import copy
import json

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from ._checks import check_bool, check_int
from ._device import auto_batch_size, check_device, module_device
from ._trials import epoch_ids, epochs_arrays, pick_eeg, read_trials
from ._utils import progress
from .lrp.activations import RELU_FAMILY
from .lrp.composites import DEFAULT_COMPOSITE, GRADIENT_COMPOSITES, get_composite
from .lrp.engine import Hooks
from .lrp.layers import prepare_model
from .lrp.patterns import compute_patterns
from .lrp.rules import Pattern
from .relevance import channel_positions, make_relevance



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
    """Raise now for a target that is not one class, a contrast, 'predicted' or 'true'."""
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
        return
    if isinstance(target, str) and target in ("predicted", "true"):
        if target in classes:
            raise ValueError(
                f"target={target!r} is ambiguous: a class is named {target!r}. Give it by "
                f"position instead (target={classes.index(target)})."
            )
        return
    _class_index(target, classes, raw_classes)


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


def _target_matrix(target, logits, y_true, classes, raw_classes=None):
    """(n_trials, n_classes) selector of the explained output, and its labels.

    ``y_true`` holds class names (checked against ``classes``).
    """
    n, k = logits.shape
    e = np.zeros((n, k), dtype=np.float32)

    def index(c):
        return _class_index(c, classes, raw_classes)

    if isinstance(target, str) and target == "predicted":
        idx = logits.argmax(axis=1)
    elif isinstance(target, str) and target == "true":
        if y_true is None:
            raise ValueError("target='true' needs labels: explain mne.Epochs or pass y.")
        idx = np.array([classes.index(c) for c in y_true], dtype=int)
    elif isinstance(target, tuple):
        if len(target) != 2:
            raise ValueError(f"A contrast target is a pair (a, b), got {target!r}.")
        a, b = index(target[0]), index(target[1])
        if a == b:
            raise ValueError("A contrast needs two different classes.")
        e[:, a], e[:, b] = 1.0, -1.0
        return e, np.array([f"{classes[a]}-{classes[b]}"] * n, dtype=object)
    else:
        idx = np.full(n, index(target))
    e[np.arange(n), idx] = 1.0
    return e, np.array([classes[i] for i in idx], dtype=object)


def explain(model, data, method="lrp", *, composite=None, target="predicted", y=None,
            ignore_bias=False, batch_size=None, n_steps=32, seed=0, device=None, verbose=None):
    """Explain every trial: a signed relevance per channel and time sample.

    Parameters
    ----------
    model : EEGClassifier | torch.nn.Module
        A fitted classifier (its input scaling is applied, and its classes
        name the outputs) or a network taking ``(batch, channels, times)``.
    data : mne.Epochs | array, shape (n_trials, n_channels, n_times)
        Trials to explain. With epochs, channel names, positions, times and
        labels come along; with an array channels and samples are numbered.
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
        LRP rules per layer; a name from ``neurolrp.lrp.COMPOSITES`` or a
        :class:`~neurolrp.lrp.Composite` with LRP rules (deconvnet and guided
        backprop are methods, not LRP composites). Default:
        ``neurolrp.lrp.DEFAULT_COMPOSITE`` (``"epsilon-pattern-box"``; why, in
        :mod:`neurolrp.lrp.composites`).
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
    ignore_bias : bool
        LRP only. ``False`` (default): biases (including those of folded
        batch norms) count in the rules' denominators and keep their share of
        the relevance, as in Bach et al. 2015. ``True``: biases are left out
        of the redistribution, so all relevance reaches the input and
        ``sum R = score`` up to the stabilisers.
    batch_size : int | None
        Trials per backward pass; memory grows with it, not with the number
        of trials. ``None`` (default): 32 on the CPU (the fastest per trial
        on 2 cores; larger batches leave the caches); on a GPU, as many as
        fit half the memory free now, measured by one pass over 4 trials.
    n_steps : int
        Integration steps of integrated gradients.
    seed : int
        Seed of the ``random`` method.
    device : "auto" | str | torch.device | None
        Where the passes run: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, a
        ``torch.device`` or ``"auto"`` (CUDA when present). ``None``
        (default): the model's own device (an EEGClassifier's ``device_``,
        a network's parameters). The model is not moved (the engine works on
        a copy); each batch goes to the device in turn, so memory follows
        ``batch_size``. The relevance always comes back on the CPU.
    verbose : bool | None
        Show progress over batches.

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

    Raises
    ------
    ValueError
        Unknown method or target, an ambiguous integer target, data that do
        not fit the model (channel names or order, sampling rate, shape),
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
    """
    if not isinstance(method, str) or method not in REGISTRY:
        raise ValueError(f"method must be one of {tuple(REGISTRY)}, got {method!r}.")
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size", low=1)
    method_obj = REGISTRY[method](composite=composite, ignore_bias=ignore_bias,
                                  n_steps=n_steps, seed=seed)  # raises now for bad options
    module, scale, classes, model_sfreq, raw_classes = _resolve_model(model)
    method_obj.check_model(module)  # raises before any work
    device = module_device(module) if device is None else check_device(device)
    X, y_true, ch_names, ch_pos, times, sfreq = _resolve_data(data, y, model)
    # trials keep the epochs' own numbers (picking channels keeps them); arrays count from 0
    trial_ids = epoch_ids(data, len(X)) if hasattr(data, "selection") else None
    if model_sfreq is not None:
        sfreq = model_sfreq
    if times is None:
        times = np.arange(X.shape[2]) / sfreq if sfreq else np.arange(X.shape[2], dtype=float)

    if method_obj.needs_engine:
        net, linear_names = prepare_model(module)  # raises before any work
    else:
        net, linear_names = copy.deepcopy(module).eval(), None
    net = net.to(device)  # the copy moves; the user's model stays where it is
    param = next(net.parameters(), None)
    dtype = np.float32 if param is None else torch.empty(0, dtype=param.dtype).numpy().dtype

    def batch(sl):
        """Scaled input of the trials ``sl`` (per batch: memory follows the batch)."""
        xb = scale(X[sl]) if scale is not None else X[sl]
        return torch.from_numpy(np.ascontiguousarray(xb, dtype=dtype)).to(device)

    with torch.no_grad():
        try:  # one trial, to check the model takes the data before any work
            probe = net(batch(slice(0, 1))).cpu().numpy()
        except RuntimeError as err:
            raise ValueError(f"The model cannot take data of shape {X.shape[1:]}: {err}") from None
    if probe.ndim != 2:
        raise ValueError(f"The model must return (batch, n_classes) scores, got {probe.shape}.")
    if classes is None:
        classes = [str(i) for i in range(probe.shape[1])]
        if y_true is not None:
            labels = np.unique(y_true)  # sorted as EEGClassifier sorts them (numbers as numbers)
            if len(labels) == probe.shape[1]:
                classes, raw_classes = [str(v) for v in labels], labels
    if y_true is not None:
        y_true = _label_names(y_true, classes, raw_classes)
    _check_target(target, classes, raw_classes)  # before any work
    method_obj.bind(model=model, module=module, net=net, linear_names=linear_names, X=X,
                    scale=scale)

    out = np.empty(X.shape, dtype=np.float32)
    scores = np.empty(len(X), dtype=np.float64)
    y_pred = np.empty(len(X), dtype=object)
    target_names = np.empty(len(X), dtype=object)

    def select(logit, sl):
        """The batch's output selector; fills predictions and target names."""
        lg = logit.detach().cpu().numpy()
        y_pred[sl] = [classes[i] for i in lg.argmax(axis=1)]
        e, target_names[sl] = _target_matrix(
            target, lg, None if y_true is None else y_true[sl], classes, raw_classes)
        return torch.from_numpy(e).to(device=logit.device, dtype=logit.dtype)

    def run(sl):
        x = batch(sl).requires_grad_(True)
        logit, e, R = method_obj.relevance(net, x, lambda lg: select(lg, sl), sl)
        out[sl] = R.detach().cpu().numpy()
        scores[sl] = (logit.detach() * e).sum(1).cpu().numpy()

    if batch_size is None:  # the probe's results are overwritten by the run below
        batch_size = auto_batch_size(device, len(X),
                                     lambda k: run(slice(0, k)))
    batches = range(0, len(X), batch_size)
    for start in progress(batches, f"Explaining ({method})", total=len(batches), verbose=verbose):
        run(slice(start, start + batch_size))

    attrs = {"method": method, "target": _target_text(target), "classes": list(classes),
             "model": type(module).__name__, "sfreq": float(sfreq) if sfreq else float("nan"),
             "conservation_error": float("nan")}
    conservation = method_obj.finish(out, scores, attrs)
    if not isinstance(model, torch.nn.Module):
        attrs["model_params"] = json.dumps(model.get_params(), default=str)
        if getattr(model, "model_selection_", None):  # model="auto": what it chose between
            attrs["model_selection"] = json.dumps(model.model_selection_)
    return make_relevance(
        out, channels=ch_names, times=times, y_pred=y_pred, target=target_names, score=scores,
        y_true=None if y_true is None else np.asarray([str(v) for v in y_true], dtype=object),
        ch_pos=ch_pos, trial=trial_ids, conservation=conservation, attrs=attrs,
    )


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
    :func:`register`; :func:`explain` does the rest (checks, batches, the
    device, targets, the relevance container).

    Parameters
    ----------
    composite : str | Composite | None
        LRP's rules (used by :class:`LRP` only).
    ignore_bias : bool
        LRP only: leave biases out of the redistribution.
    n_steps : int
        Integration steps (integrated gradients only).
    seed : int
        Seed (the random baseline only).

    Attributes
    ----------
    name : str
        What ``explain(..., method=name)`` calls it.
    needs_engine : bool
        Whether the model goes through :func:`~neurolrp.lrp.prepare_model`
        (supported layers only, batch norms folded), as for the methods that
        change the backward pass.
    """

    name = None
    needs_engine = False

    def __init__(self, *, composite=None, ignore_bias=False, n_steps=32, seed=0):
        self.n_steps = check_int(n_steps, "n_steps", low=1)
        self.seed = check_int(seed, "seed", low=0)
        self.ignore_bias = check_bool(ignore_bias, "ignore_bias")
        self.composite = composite

    def check_model(self, module):
        """Raise if the method cannot explain the network ``module`` (before any work)."""

    def bind(self, *, model, module, net, linear_names, X, scale):
        """Prepare for one call, once the model and the data are known and checked."""
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
    """Layer-wise Relevance Propagation: the composite's rules in one modified backward pass."""

    name = "lrp"
    needs_engine = True

    def __init__(self, **options):
        super().__init__(**options)
        comp = get_composite(self.composite if self.composite is not None
                             else DEFAULT_COMPOSITE)  # raises now
        if not comp.is_lrp:
            raise ValueError(f"Composite {comp.name!r} has no LRP rules (its linear layers would "
                             "keep their gradient); LRP needs one for every linear layer. For "
                             "deconvnet or guided backprop use method='deconvnet' or "
                             "'guided-backprop'.")

    def bind(self, *, model, module, net, linear_names, X, scale):
        super().bind(model=model, module=module, net=net, linear_names=linear_names, X=X,
                     scale=scale)
        comp = get_composite(self.composite if self.composite is not None
                             else DEFAULT_COMPOSITE)
        if comp.needs_input_bounds():
            box = getattr(model, "input_range_", None)
            if box is None:  # a plain network: the range of the explained data
                box = (float(X.min()), float(X.max()))
            comp = comp.with_input_bounds(*box)
        if self.ignore_bias:
            comp = comp.without_bias()
        layers = [(n, net.get_submodule(n)) for n in linear_names]
        self.patterns_from = None
        if comp.needs_patterns():
            patterns = getattr(model, "patterns_", None)
            self.patterns_from = "training data"
            if patterns is None:  # a plain network: the patterns of the explained data
                needed = [n for n, r in comp.assign(layers).items()
                          if isinstance(r, Pattern) and r.pattern is None]
                patterns = compute_patterns(module, scale(X) if scale is not None else X,
                                            layers=needed)
                self.patterns_from = "explained data"
            comp = comp.with_patterns(patterns, layers)
        self.comp = comp
        self.rules_json = comp.describe(layers)
        self.accounted = np.zeros(len(X), dtype=np.float64)

    def relevance(self, net, x, select, sl):
        with Hooks(net, self.linear_names, self.comp) as hooks:
            logit = net(x)
            e = select(logit)
            (R,) = torch.autograd.grad(logit, x, grad_outputs=logit.detach() * e)
        absorbed = torch.stack(hooks.absorbed).sum(0) if hooks.absorbed else 0.0
        self.accounted[sl] = (R.sum(dim=(1, 2)) + absorbed).detach().cpu().numpy()
        return logit, e, R

    def finish(self, out, scores, attrs):
        denom = np.maximum(np.abs(scores), 1e-12)
        conservation = np.abs(out.sum(axis=(1, 2), dtype=np.float64) - scores) / denom
        if any(isinstance(r, Pattern) for r in self.comp.rules()):
            attrs["patterns_from"] = self.patterns_from
        attrs.update({
            "composite": self.comp.name, "rules": self.rules_json,
            "conservation_error": float(conservation.max()),
            "conservation_error_accounted": float(
                (np.abs(self.accounted - scores) / denom).max()),
        })
        return conservation


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
    ``nn.LeakyReLU``; every other layer keeps its gradient.
    """

    needs_engine = True

    def check_model(self, module):
        if not any(isinstance(m, RELU_FAMILY) for m in module.modules()):
            raise ValueError(
                f"{type(module).__name__} has no ReLU-family activation (nn.ReLU, nn.ELU, "
                f"nn.LeakyReLU), so {self.name} would be the plain gradient. Use "
                "method='gradient' (or a network with such activations, e.g. EEGNet).")

    def bind(self, **kwargs):
        super().bind(**kwargs)
        self.comp = GRADIENT_COMPOSITES[self.name]()

    def relevance(self, net, x, select, sl):
        with Hooks(net, self.linear_names, self.comp):  # the gradient, under the rules
            return super().relevance(net, x, select, sl)


@register
class IntegratedGradients(Method):
    """Integrated gradients (Sundararajan et al. 2017), zero baseline, midpoint rule."""

    name = "integrated-gradients"

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
    """A seeded random baseline (standard normal relevance)."""

    name = "random"

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
    import xarray as xr

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

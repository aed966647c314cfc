"""``explain``: relevance of every trial, by LRP or another attribution method."""

import copy
import json

import mne
import numpy as np
import torch

from ._utils import check_3d, check_finite, progress
from .lrp.composites import DEFAULT_COMPOSITE, get_composite
from .lrp.engine import Hooks
from .lrp.layers import prepare_model
from .lrp.patterns import compute_patterns
from .lrp.rules import Pattern, ZBox
from .relevance import channel_positions, make_relevance

METHODS = ("lrp", "gradient", "gradient*input", "integrated-gradients", "deconvnet",
           "guided-backprop", "random")


def _resolve_model(model):
    """(module, scale function, class names, sfreq) of a classifier or module."""
    from .classifier import EEGClassifier

    if isinstance(model, EEGClassifier):
        model._check_fitted()
        return model.module_, model.scale, [str(c) for c in model.classes_], model.sfreq_
    if isinstance(model, torch.nn.Module):
        return model, None, None, None
    raise TypeError(
        f"model must be a fitted neurolrp.EEGClassifier or a torch.nn.Module, got "
        f"{type(model).__name__}."
    )


def _resolve_data(data, y):
    """Array, labels, channel names, positions, times, sfreq of the input."""
    if isinstance(data, mne.BaseEpochs):
        from .classifier import epochs_to_arrays

        X, y_ep, sfreq = epochs_to_arrays(data)
        return (X, y_ep if y is None else np.asarray(y, dtype=object), list(data.ch_names),
                channel_positions(data.info), data.times.copy(), sfreq)
    X = check_3d(data, "data")
    if y is not None:
        y = np.asarray(y).astype(str).astype(object)
        if y.shape != (len(X),):
            raise ValueError(f"y must have one label per trial ({len(X)}), got shape {y.shape}.")
    return X, y, [str(i) for i in range(X.shape[1])], None, None, None


def _target_matrix(target, logits, y_true, classes):
    """(n_trials, n_classes) selector of the explained output, and its labels."""
    n, k = logits.shape
    e = np.zeros((n, k), dtype=np.float32)

    def index(c):
        if isinstance(c, (int, np.integer)) and not isinstance(c, bool):
            if not 0 <= c < k:
                raise ValueError(f"target index {c} is out of range for {k} outputs.")
            return int(c)
        if str(c) in classes:
            return classes.index(str(c))
        raise ValueError(f"target {c!r} is not a class of the model; classes: {classes}.")

    if isinstance(target, str) and target == "predicted":
        idx = logits.argmax(axis=1)
    elif isinstance(target, str) and target == "true":
        if y_true is None:
            raise ValueError("target='true' needs labels: explain mne.Epochs or pass y.")
        idx = np.array([index(c) for c in y_true])
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
            ignore_bias=False, batch_size=32, n_steps=32, seed=0, verbose=None):
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
        ``"guided-backprop"`` or ``"random"`` (a seeded baseline).
    composite : str | Composite | None
        LRP rules per layer; a name from ``neurolrp.lrp.COMPOSITES`` or a
        :class:`~neurolrp.lrp.Composite`. Default:
        ``neurolrp.lrp.DEFAULT_COMPOSITE`` (``"epsilon-gamma-box"``; why, in
        :mod:`neurolrp.lrp.composites`).
    target : "predicted" | "true" | str | int | tuple
        The explained output: the predicted class, the true class, a class
        name or index, or a contrast ``("left", "right")`` that explains
        ``f_left - f_right`` ("what speaks for left rather than right").
    y : array | None
        Labels of array data (class names), to fill ``y_true`` and
        ``correct``.
    ignore_bias : bool
        LRP only. ``False`` (default): biases (including those of folded
        batch norms) count in the rules' denominators and keep their share of
        the relevance, as in Bach et al. 2015. ``True``: biases are left out
        of the redistribution, so all relevance reaches the input and
        ``sum R = score`` up to the stabilisers.
    batch_size : int
        Trials per backward pass; memory grows with it, not with the number
        of trials.
    n_steps : int
        Integration steps of integrated gradients.
    seed : int
        Seed of the ``random`` method.
    verbose : bool | None
        Show progress over batches.

    Returns
    -------
    relevance : xarray.DataArray
        Dims ``("trial", "channel", "time")`` with the coordinates and attrs
        described in :mod:`neurolrp.relevance`. For LRP, positive relevance is
        evidence for the target and ``conservation`` (per trial) and
        ``attrs["conservation_error"]`` give ``|sum R - score| / |score|``;
        ``attrs["conservation_error_accounted"]`` counts the share that
        biases and stabilisers keep, which a correct propagation makes
        vanish up to float precision.

    Raises
    ------
    ValueError
        Unknown method or target, data that do not fit the model, NaN/inf.
    neurolrp.lrp.UnsupportedModelError
        (method ``"lrp"``, ``"deconvnet"``, ``"guided-backprop"``) the model
        holds a layer the engine has no rule for, named in the message;
        raised before any computation.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
    X, y_true, ch_names, ch_pos, times, sfreq = _resolve_data(data, y)
    module, scale, classes, model_sfreq = _resolve_model(model)
    check_finite(X, "data")
    if model_sfreq is not None:
        if sfreq is not None and not np.isclose(sfreq, model_sfreq):
            raise ValueError(f"The data are sampled at {sfreq:g} Hz; the model was fitted at "
                             f"{model_sfreq:g} Hz.")
        sfreq = model_sfreq
        if hasattr(model, "n_channels_") and X.shape[1:] != (model.n_channels_, model.n_times_):
            raise ValueError(
                f"data have {X.shape[1]} channels x {X.shape[2]} samples; the classifier was "
                f"fitted on {model.n_channels_} x {model.n_times_}.")
    if times is None:
        times = np.arange(X.shape[2]) / sfreq if sfreq else np.arange(X.shape[2], dtype=float)
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}.")

    if method in ("lrp", "deconvnet", "guided-backprop"):
        net, linear_names = prepare_model(module)  # raises before any work
    else:
        net, linear_names = copy.deepcopy(module).eval(), None
    param = next(net.parameters(), None)
    dtype = np.float32 if param is None else torch.empty(0, dtype=param.dtype).numpy().dtype

    def batch(sl):
        """Scaled input of the trials ``sl`` (per batch: memory follows the batch)."""
        xb = scale(X[sl]) if scale is not None else X[sl]
        return torch.from_numpy(np.ascontiguousarray(xb, dtype=dtype))

    with torch.no_grad():
        try:  # one trial, to check the model takes the data before any work
            probe = net(batch(slice(0, 1))).numpy()
        except RuntimeError as err:
            raise ValueError(f"The model cannot take data of shape {X.shape[1:]}: {err}") from None
    if probe.ndim != 2:
        raise ValueError(f"The model must return (batch, n_classes) scores, got {probe.shape}.")
    if classes is None:
        classes = [str(i) for i in range(probe.shape[1])]
        names = sorted(set(map(str, y_true))) if y_true is not None else []
        if len(names) == probe.shape[1]:
            classes = names  # outputs in sorted class order, as EEGClassifier does
    _target_matrix(target, probe, None if y_true is None else y_true[:1], classes)  # check it

    comp = None
    if method == "lrp":
        comp = get_composite(composite if composite is not None else DEFAULT_COMPOSITE)
        box = getattr(model, "input_range_", None)
        if box is None:  # a plain network: the range of the explained data
            box = (float(X.min()), float(X.max()))
        comp = _bind_box_bounds(comp, box)
        if ignore_bias:
            comp = copy.deepcopy(comp)
            for rule in _rules(comp):
                rule.bias = False
        layers = [(n, net.get_submodule(n)) for n in linear_names]
        if comp.needs_patterns():
            patterns = getattr(model, "patterns_", None)
            patterns_from = "training data"
            if patterns is None:  # a plain network: the patterns of the explained data
                patterns = compute_patterns(module, scale(X) if scale is not None else X)
                patterns_from = "explained data"
            comp = comp.with_patterns(patterns, layers)
        rules_json = comp.describe(layers)

    out = np.empty(X.shape, dtype=np.float32)
    scores = np.empty(len(X), dtype=np.float64)
    accounted = np.zeros(len(X), dtype=np.float64)
    y_pred = np.empty(len(X), dtype=object)
    target_names = np.empty(len(X), dtype=object)
    rng = np.random.default_rng(seed)

    def select(logit, sl):
        """The batch's output selector; fills predictions and target names."""
        lg = logit.detach().numpy()
        y_pred[sl] = [classes[i] for i in lg.argmax(axis=1)]
        e, target_names[sl] = _target_matrix(
            target, lg, None if y_true is None else y_true[sl], classes)
        return torch.from_numpy(e).to(logit.dtype)

    batches = range(0, len(X), batch_size)
    for start in progress(batches, f"Explaining ({method})", total=len(batches), verbose=verbose):
        sl = slice(start, start + batch_size)
        x = batch(sl).requires_grad_(True)
        if method == "lrp":
            with Hooks(net, linear_names, comp, mode="lrp") as hooks:
                logit = net(x)
                e = select(logit, sl)
                (R,) = torch.autograd.grad(logit, x, grad_outputs=logit.detach() * e)
            absorbed = torch.stack(hooks.absorbed).sum(0) if hooks.absorbed else 0.0
            accounted[sl] = (R.sum(dim=(1, 2)) + absorbed).detach().numpy()
        elif method in ("deconvnet", "guided-backprop"):
            mode = "deconvnet" if method == "deconvnet" else "guided"
            with Hooks(net, linear_names, mode=mode):
                logit = net(x)
                e = select(logit, sl)
                (R,) = torch.autograd.grad(logit, x, grad_outputs=e)
        elif method in ("gradient", "gradient*input"):
            logit = net(x)
            e = select(logit, sl)
            (g,) = torch.autograd.grad(logit, x, grad_outputs=e)
            R = g * x.detach() if method == "gradient*input" else g
        else:
            with torch.no_grad():
                logit = net(x)
            e = select(logit, sl)
            if method == "random":
                R = torch.from_numpy(rng.standard_normal(tuple(x.shape)).astype(np.float32))
            else:  # integrated gradients, zero baseline, midpoint rule
                total = torch.zeros_like(x)
                for alpha in (np.arange(n_steps) + 0.5) / n_steps:
                    xa = (x.detach() * float(alpha)).requires_grad_(True)
                    (g,) = torch.autograd.grad(net(xa), xa, grad_outputs=e)
                    total += g
                R = x.detach() * total / n_steps
        out[sl] = R.detach().numpy()
        scores[sl] = (logit.detach() * e).sum(1).numpy()

    attrs = {"method": method, "target": _target_text(target), "classes": list(classes),
             "model": type(module).__name__, "sfreq": float(sfreq) if sfreq else float("nan"),
             "conservation_error": float("nan")}
    conservation = None
    if method == "lrp":
        denom = np.maximum(np.abs(scores), 1e-12)
        conservation = np.abs(out.sum(axis=(1, 2), dtype=np.float64) - scores) / denom
        if any(isinstance(r, Pattern) for r in comp.rules()):
            attrs["patterns_from"] = patterns_from
        attrs.update({
            "composite": comp.name, "rules": rules_json,
            "conservation_error": float(conservation.max()),
            "conservation_error_accounted": float((np.abs(accounted - scores) / denom).max()),
        })
    if not isinstance(model, torch.nn.Module):
        attrs["model_params"] = json.dumps(model.get_params(), default=str)
    return make_relevance(
        out, channels=ch_names, times=times, y_pred=y_pred, target=target_names, score=scores,
        y_true=None if y_true is None else np.asarray([str(v) for v in y_true], dtype=object),
        ch_pos=ch_pos, conservation=conservation, attrs=attrs,
    )


def _target_text(target):
    return "-".join(map(str, target)) if isinstance(target, tuple) else str(target)


def _rules(comp):
    return comp.rules()


def _bind_box_bounds(comp, box):
    """Fill ZBox bounds left as None with ``box`` = (low, high), on a copy."""
    if not any(isinstance(r, ZBox) and (r.low is None or r.high is None) for r in _rules(comp)):
        return comp
    comp = copy.deepcopy(comp)
    for r in _rules(comp):
        if isinstance(r, ZBox):
            r.low = box[0] if r.low is None else r.low
            r.high = box[1] if r.high is None else r.high
    return comp


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
        All trials, in their original order (``trial`` holds the index into
        ``epochs``); ``attrs["conservation_error"]`` is the largest over folds.
    """
    import xarray as xr

    if model not in cv_result.estimators:
        raise ValueError(f"No cross-validated {model!r}; have {sorted(cv_result.estimators)}.")
    parts = []
    kwargs.setdefault("verbose", False)
    for est, (_, test) in zip(cv_result.estimators[model], cv_result.folds):
        rel = explain(est, epochs[test], **kwargs)
        parts.append(rel.assign_coords(trial=np.asarray(test)))
    rel = xr.concat(parts, dim="trial", combine_attrs="override").sortby("trial")
    for key in ("conservation_error", "conservation_error_accounted"):
        if key in rel.attrs:
            rel.attrs[key] = float(max(p.attrs[key] for p in parts))
    rel.attrs["out_of_fold"] = len(parts)
    return rel

"""Signal patterns of a network's layers, measured on data (for the Pattern rule).

The pattern of output ``j`` of a linear layer is ``a_j = cov(x, y_j) /
var(y_j)`` (Haufe et al. 2014; Kindermans et al. 2018): the direction in the
layer's input along which the signal that ``y_j`` detects varies, scaled so
that ``w_j . a_j = 1``. For a convolution ``x`` is every input patch the
kernel sees, pooled over positions and trials, so ``a`` has the weight's
shape.
"""

import numpy as np
import torch

from .layers import LinearOp, prepare_model


def compute_patterns(model, X, batch_size=32, layers=None):
    """Patterns of the convolution and dense layers of ``model``, from inputs ``X``.

    Parameters
    ----------
    model : torch.nn.Module
        The network (not modified; batch norms are folded on a copy, which
        leaves ``w * a`` unchanged).
    X : array | torch.Tensor, shape (n_trials, ...)
        Input the network takes (for an :class:`~neurolrp.EEGClassifier`:
        its scaled training data).
    batch_size : int
        Trials per forward pass.
    layers : list of str | None
        Names of the layers (in the network with batch norms folded, as
        :func:`~neurolrp.lrp.prepare_model` names them) whose patterns are
        needed; None: every layer with weights.

    Returns
    -------
    patterns : dict
        Layer name -> float32 CPU tensor shaped like the layer's weight (in
        the network with batch norms folded). Outputs that never vary get a zero
        pattern.
    """
    net, layers = _weighted_layers(model, layers)
    sums = {n: [0.0, 0.0, 0.0, 0] for n in layers}  # sum x*z, sum x, sum z, count
    for _, inputs in _layer_inputs(net, layers, X, batch_size):
        for n, m in layers.items():
            g_xz, g_x, z = _patch_sums(LinearOp(m), m.weight.detach(), inputs[n])
            per_out = (0,) + tuple(range(2, z.dim()))
            acc = sums[n]
            acc[0] = acc[0] + g_xz.double()
            acc[1] = acc[1] + g_x.double()
            acc[2] = acc[2] + z.double().sum(dim=per_out)
            acc[3] += z.numel() // z.shape[1]
    patterns = {}
    for n, m in layers.items():
        s_xz, s_x, s_z, count = sums[n]
        mean_z = (s_z / count).view(-1, *([1] * (m.weight.dim() - 1)))
        patterns[n] = _scaled(s_xz / count - (s_x / count) * mean_z, m.weight)
    return patterns


def _weighted_layers(model, names):
    """``model`` prepared for the engine (batch norms folded on a copy) and ``{name: module}``
    of its weighted linear layers ``names`` (None: all of them)."""
    net, linear_names = prepare_model(model)
    wanted = linear_names if names is None else [n for n in linear_names if n in set(names)]
    return net, {n: net.get_submodule(n) for n in wanted
                 if hasattr(net.get_submodule(n), "weight")}


def _layer_inputs(net, layers, X, batch_size):
    """``(trials, {name: input of that layer})`` per batch of ``X`` through ``net``.

    ``trials`` is the batch's slice of ``X``.

    The batches go to the network's device one at a time: memory follows the batch.
    """
    inputs = {}
    handles = [m.register_forward_hook(lambda m, i, o, n=n: inputs.__setitem__(n, i[0].detach()))
               for n, m in layers.items()]
    try:
        param = next(net.parameters())
        X = torch.as_tensor(np.asarray(X)) if not torch.is_tensor(X) else X
        with torch.no_grad():
            for start in range(0, len(X), batch_size):
                batch = X[start:start + batch_size]
                net(batch.to(dtype=param.dtype, device=param.device))
                yield slice(start, start + len(batch)), inputs
    finally:
        for h in handles:
            h.remove()


def _scaled(cov, weight):
    """The patterns ``cov_j / (w_j . cov_j)`` (zero where ``w_j . cov_j`` vanishes), as kept
    with a fit and saved: float32 on the CPU."""
    var = (weight.detach().double() * cov).sum(dim=tuple(range(1, cov.dim())), keepdim=True)
    a = torch.where(var > 1e-12 * var.abs().max().clamp(min=1e-30), cov / var,
                    torch.zeros_like(cov))
    return a.float().cpu()


def _patch_sums(op, weight, x):
    """``sum patch(x) z`` and ``sum patch(x)`` per weight entry, and the output ``z``.

    Both sums are weight gradients: ``d/dw sum(z * z')`` and ``d/dw sum(z)``.
    The second is the same for every output of a group, so it is taken from a
    layer with one output per group (a fraction of the cost).
    """
    groups = getattr(op.module, "groups", 1) if op.kind == "conv" else 1
    w = weight.clone().requires_grad_(True)
    probe = weight.new_zeros((groups, *weight.shape[1:])).requires_grad_(True)
    with torch.enable_grad():
        z = op(x, w, None)
        (g_xz,) = torch.autograd.grad(z, w, grad_outputs=z.detach())
        (g_x,) = torch.autograd.grad(op(x, probe, None).sum(), probe)
    per_group = weight.shape[0] // groups
    return g_xz, g_x.repeat_interleave(per_group, dim=0), z.detach()


def compute_between_class_patterns(model, X, y, batch_size=32, layers=None):
    """Between-class (evoked) patterns: the pattern of the class-mean part of each layer's input.

    With ``h`` the layer's input, ``mu_c`` its mean over the trials of class
    ``c`` and ``mu`` the mean over all trials, the between-class covariance of
    the input patches is ``C_B = sum_c n_c / N * mean_pos (p(mu_c) - p(mu))
    (p(mu_c) - p(mu))^T`` (``p``: the patch a kernel position sees, pooled over
    positions) and the pattern of output ``j`` is ``a_j = C_B w_j / (w_j^T C_B
    w_j)`` (Haufe et al. 2014 with the class means as the signal): the
    direction in the layer's input along which what ``y_j`` detects *differs
    between the classes*. For a depthwise spatial convolution (EEGNet) it is
    per input map; for two classes and a linear discriminant it is the
    class-difference topography, the pattern of shrinkage LDA. Background
    activity that is the same in both classes (volume-conducted noise, a
    potential common to both classes) averages out of the class means, so it
    does not pull the pattern towards where the background is strongest, as it
    pulls :func:`compute_patterns`'s ``cov(x, y_j) / var(y_j)``.

    Parameters
    ----------
    model : torch.nn.Module
        The network (not modified; batch norms folded on a copy).
    X : array | torch.Tensor, shape (n_trials, ...)
        Input the network takes (an :class:`~neurolrp.EEGClassifier`'s scaled
        training data).
    y : array of int, shape (n_trials,)
        Class index of each trial.
    batch_size : int
        Trials per forward pass.
    layers : list of str | None
        Layer names (as :func:`~neurolrp.lrp.prepare_model` names them); None:
        every layer with weights.

    Returns
    -------
    patterns : dict
        Layer name -> float32 CPU tensor shaped like the layer's weight.
        Outputs whose class means do not differ get a zero pattern.
    """
    net, layers = _weighted_layers(model, layers)
    classes, y_idx = np.unique(np.asarray(y), return_inverse=True)
    sums = {n: None for n in layers}  # per class: sum of the layer's input over trials
    for trials, inputs in _layer_inputs(net, layers, X, batch_size):
        rows = y_idx[trials]
        onehot = torch.zeros(len(classes), len(rows), dtype=torch.float64,
                             device=next(net.parameters()).device)
        onehot[rows, torch.arange(len(rows))] = 1.0
        for n in layers:
            s = torch.einsum("cb,b...->c...", onehot, inputs[n].double())
            sums[n] = s if sums[n] is None else sums[n] + s
    counts = torch.as_tensor(np.bincount(y_idx, minlength=len(classes)), dtype=torch.float64,
                             device=next(net.parameters()).device)
    share = counts / counts.sum()
    patterns = {}
    for n, m in layers.items():
        s = sums[n]
        per_class = (-1, *([1] * (s.dim() - 1)))
        # class-mean deviations as a batch of len(classes) inputs, weighted so that the
        # patch sums are sum_c n_c/N p(d_c) z(d_c): C_B w_j, per weight entry
        d = ((s / counts.view(per_class) - s.sum(0, keepdim=True) / counts.sum())
             * share.sqrt().view(per_class))
        w = m.weight.detach().double()
        cov, _, _ = _patch_sums(LinearOp(m), w, d)
        patterns[n] = _scaled(cov, w)
    return patterns

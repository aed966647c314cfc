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


def compute_patterns(model, X, batch_size=256):
    """Patterns of every convolution and dense layer of ``model``, from inputs ``X``.

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

    Returns
    -------
    patterns : dict
        Layer name -> float32 CPU tensor shaped like the layer's weight (in
        the network with batch norms folded). Outputs that never vary get a zero
        pattern.
    """
    net, linear_names = prepare_model(model)
    layers = {n: net.get_submodule(n) for n in linear_names
              if hasattr(net.get_submodule(n), "weight")}
    inputs = {}
    handles = [m.register_forward_hook(lambda m, i, o, n=n: inputs.__setitem__(n, i[0].detach()))
               for n, m in layers.items()]
    param = next(net.parameters())
    X = torch.as_tensor(np.asarray(X)) if not torch.is_tensor(X) else X
    sums = {n: [0.0, 0.0, 0.0, 0] for n in layers}  # sum x*z, sum x, sum z, count
    try:
        with torch.no_grad():
            for start in range(0, len(X), batch_size):
                # to the network's device one batch at a time: memory follows the batch
                net(X[start:start + batch_size].to(dtype=param.dtype, device=param.device))
                for n, m in layers.items():
                    x = inputs[n]
                    op = LinearOp(m)
                    w = m.weight.detach().clone().requires_grad_(True)
                    with torch.enable_grad():
                        z = op(x, w, None)
                        # d/dw sum(z * z') = sum over positions of patch(x) z'
                        g_xz, = torch.autograd.grad((z * z.detach()).sum(), w, retain_graph=True)
                        g_x, = torch.autograd.grad(z.sum(), w)
                    per_out = (0,) + tuple(range(2, z.dim()))
                    acc = sums[n]
                    acc[0] = acc[0] + g_xz.double()
                    acc[1] = acc[1] + g_x.double()
                    acc[2] = acc[2] + z.detach().double().sum(dim=per_out)
                    acc[3] += z.numel() // z.shape[1]
    finally:
        for h in handles:
            h.remove()
    patterns = {}
    for n, m in layers.items():
        s_xz, s_x, s_z, count = sums[n]
        mean_z = (s_z / count).view(-1, *([1] * (m.weight.dim() - 1)))
        cov = s_xz / count - (s_x / count) * mean_z
        var = (m.weight.detach().double() * cov).sum(dim=tuple(range(1, cov.dim())), keepdim=True)
        a = torch.where(var > 1e-12 * var.abs().max().clamp(min=1e-30), cov / var,
                        torch.zeros_like(cov))
        patterns[n] = a.float().cpu()  # kept with the fit and saved: on the CPU
    return patterns

"""The propagation engine: one modified backward pass through a prepared model.

Each linear layer's output is wrapped, in a forward hook, in an autograd
function whose backward applies the layer's rule; element-wise functions get
an identity backward (relevance passes unchanged); reshapes and max pooling
keep their gradient (which routes relevance). What arrives at the input is
the relevance itself. Other propagation methods (guided backprop, deconvnet)
use the same hooks with other backward functions.
"""

import torch

from .layers import ELEMENTWISE_TYPES, LINEAR_TYPES, LinearOp


class _RuleFunction(torch.autograd.Function):
    """Identity in the forward; the rule's relevance step in the backward."""

    @staticmethod
    def forward(ctx, x, out, op, rule, absorbed):
        ctx.save_for_backward(x, out)
        ctx.op, ctx.rule, ctx.absorbed = op, rule, absorbed
        return out.view_as(out)

    @staticmethod
    def backward(ctx, R):
        x, out = ctx.saved_tensors
        R_in, absorbed = ctx.rule(ctx.op, x, R, out)
        ctx.absorbed.append(absorbed.detach())
        return R_in, None, None, None, None


class _PassFunction(torch.autograd.Function):
    """Forward: the element-wise output. Backward: relevance unchanged."""

    @staticmethod
    def forward(ctx, x, out):
        return out.view_as(out)

    @staticmethod
    def backward(ctx, R):
        return R, None


class _ModifiedReLU(torch.autograd.Function):
    """ReLU whose backward follows deconvnet or guided backprop."""

    @staticmethod
    def forward(ctx, x, out, mode):
        ctx.save_for_backward(x)
        ctx.mode = mode
        return out.clone()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        if ctx.mode == "deconvnet":  # Zeiler and Fergus 2014: rectify the signal
            return g.clamp(min=0), None, None
        return g.clamp(min=0) * (x > 0), None, None  # guided backprop


class Hooks:
    """Forward hooks that install a method's backward on every layer.

    Parameters
    ----------
    model : torch.nn.Module
        A model from :func:`~neurolrp.lrp.layers.prepare_model`.
    linear_names : list of str
        Its linear layers, input to output.
    composite : Composite | None
        For ``mode="lrp"``: the rules.
    mode : "lrp" | "deconvnet" | "guided"
        What the backward does.
    """

    def __init__(self, model, linear_names, composite=None, mode="lrp"):
        self.handles = []
        self.absorbed = []
        if mode == "lrp":
            rules = composite.assign([(n, model.get_submodule(n)) for n in linear_names])
            n_weighted = len(weighted_layers(model, linear_names))
        for name, m in model.named_modules():
            if list(m.children()):
                continue
            if mode == "lrp" and isinstance(m, LINEAR_TYPES):
                # a layer the forward never reaches gets its type's rule
                rule = rules[name] if name in rules else composite.rule_for(
                    m, None, n_weighted, name)
                self.handles.append(m.register_forward_hook(self._rule_hook(LinearOp(m), rule)))
            elif mode == "lrp" and isinstance(m, ELEMENTWISE_TYPES):
                self.handles.append(m.register_forward_hook(_pass_hook))
            elif mode in ("deconvnet", "guided") and isinstance(m, torch.nn.ReLU):
                self.handles.append(m.register_forward_hook(_relu_hook(mode)))

    def _rule_hook(self, op, rule):
        def hook(module, inputs, output):
            return _RuleFunction.apply(inputs[0], output, op, rule, self.absorbed)
        return hook

    def remove(self):
        for h in self.handles:
            h.remove()
        self.handles = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def weighted_layers(model, linear_names):
    """Names of the layers with weights (dense, convolution), input to output.

    A composite's ``first`` and ``last`` rules go to the first and last of
    these; pooling layers never count as first or last.
    """
    return [n for n in linear_names if hasattr(model.get_submodule(n), "weight")]


def _pass_hook(module, inputs, output):
    return _PassFunction.apply(inputs[0], output)


def _relu_hook(mode):
    def hook(module, inputs, output):
        return _ModifiedReLU.apply(inputs[0], output, mode)
    return hook

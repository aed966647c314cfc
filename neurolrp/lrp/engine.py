"""The propagation engine: one modified backward pass through a prepared model.

A composite (:class:`~neurolrp.lrp.Composite`) says what each layer's backward
does, and :class:`Hooks` installs it: a forward hook wraps the layer's output
in an autograd function whose backward applies the layer's rule. Linear
layers get their LRP rule (:mod:`neurolrp.lrp.rules`); element-wise layers
get their activation rule (:mod:`neurolrp.lrp.activations`); every other
layer, and a layer the composite gives no rule, keeps its gradient
(reshapes and max pooling route relevance that way).

LRP composites give every linear layer a rule and every element-wise layer
``Pass`` (relevance crosses unchanged), so what arrives at the input is the
relevance itself. Deconvnet and guided backprop are composites with no LRP
rules (linear layers keep their gradient) and ``Rectify`` or ``Guided`` on
the ReLU-family activations: the same hooks, other rules.

Memory: each linear layer's rule keeps its scratch tensors in a
:class:`~neurolrp.lrp.layers.Workspace` that lives as long as the prepared
model, one per thread, so the batches of one explanation reuse them (see
:mod:`neurolrp.lrp.rules` for why). The relevance a rule hands to the layer
below is written into a workspace buffer too when another rule consumes it
in the same backward pass (:func:`_after_rule`); the relevance that reaches
the input is always a new tensor, so a caller may keep it. A spatial filter
with an LRP rule computes its forward as a matrix product while the hooks are
installed (:meth:`~neurolrp.lrp.layers.LinearOp.matmul_forward`): equal to its
convolution up to float round-off, without the convolution's reorder of its
input.
"""

import inspect
import threading
import weakref

import torch

from .layers import ELEMENTWISE_TYPES, LINEAR_TYPES, LinearOp, Workspace


class _RuleFunction(torch.autograd.Function):
    """Identity in the forward; the rule's relevance step in the backward."""

    @staticmethod
    def forward(ctx, x, out, op, rule, absorbed, reuse):
        ctx.save_for_backward(x, out)
        ctx.op, ctx.rule, ctx.absorbed, ctx.reuse = op, rule, absorbed, reuse
        return out.view_as(out)

    @staticmethod
    def backward(ctx, R):
        x, out = ctx.saved_tensors
        buf = ctx.op.workspace.tensor("R_in", x.shape, x) if ctx.reuse else None
        if buf is not None and buf.untyped_storage().data_ptr() == \
                R.untyped_storage().data_ptr():
            buf = None  # a layer applied twice in a row: R is its own buffer, still to be read
        if buf is None:
            R_in, absorbed = ctx.rule(ctx.op, x, R, out)
        else:
            R_in, absorbed = ctx.rule(ctx.op, x, R, out, out=buf)
        ctx.absorbed.append(absorbed.detach())
        return R_in, None, None, None, None, None


def _after_rule(t, limit=10_000):
    """Whether every path from ``t`` back to the leaves crosses a linear layer's rule.

    Then the relevance of ``t`` is consumed by that rule within the backward
    pass and never handed to the caller, so it may live in a reused buffer.
    """
    stack, seen = [t.grad_fn], set()
    while stack:
        fn = stack.pop()
        if fn is None or isinstance(fn, _RuleFunction._backward_cls) or id(fn) in seen:
            continue
        if not fn.next_functions or len(seen) > limit:
            return False  # a leaf (the input): relevance reaches the caller
        seen.add(id(fn))
        stack.extend(f for f, _ in fn.next_functions)
    return t.grad_fn is not None


_LOCAL = threading.local()


def workspaces(model):
    """This thread's workspaces of a prepared model: layer name -> Workspace.

    Kept while ``model`` lives (so across the batches of an explanation, or
    the calls of an object that holds the model), per thread (two threads
    explaining with one model do not share scratch tensors).
    """
    registry = getattr(_LOCAL, "registry", None)
    if registry is None:
        registry = _LOCAL.registry = weakref.WeakKeyDictionary()
    if model not in registry:
        registry[model] = {}
    return registry[model]


class _ActivationFunction(torch.autograd.Function):
    """Forward: the element-wise output. Backward: the activation rule's signal."""

    @staticmethod
    def forward(ctx, x, out, module, rule):
        if rule.needs_forward:  # else nothing is held for the backward (GPU memory)
            ctx.save_for_backward(x, out)
        ctx.module, ctx.rule = module, rule
        return out.view_as(out)

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors if ctx.rule.needs_forward else (None, None)
        return ctx.rule(ctx.module, x, out, g), None, None, None


class Hooks:
    """Forward hooks that install a composite's rules on every layer.

    Parameters
    ----------
    model : torch.nn.Module
        A model from :func:`~neurolrp.lrp.layers.prepare_model`.
    linear_names : list of str
        Its linear layers, input to output.
    composite : Composite
        The rules: LRP rules for the linear layers (if it has any, see
        :attr:`Composite.is_lrp <neurolrp.lrp.Composite.is_lrp>`; else they
        keep their gradient) and activation rules for the element-wise
        layers (one without a rule keeps its gradient).

    Attributes
    ----------
    absorbed : list of torch.Tensor
        Per linear layer, the relevance its rule kept (bias, stabilisers),
        filled during the backward pass.
    """

    def __init__(self, model, linear_names, composite):
        self.handles = []
        self.absorbed = []
        self._forwards = []
        spaces = workspaces(model)
        if composite.is_lrp:
            rules = composite.assign([(n, model.get_submodule(n)) for n in linear_names])
            n_weighted = len(weighted_layers(model, linear_names))
        for name, m in model.named_modules():
            if list(m.children()):
                continue
            if composite.is_lrp and isinstance(m, LINEAR_TYPES):
                # a layer the forward never reaches gets its type's rule
                rule = rules[name] if name in rules else composite.rule_for(
                    m, None, n_weighted, name)
                op = LinearOp(m, spaces.setdefault(name, Workspace()))
                hook = self._rule_hook(op, rule)
                if isinstance(m, torch.nn.Conv2d) and "forward" not in vars(m):
                    m.forward = _spatial_forward(m, op)  # this copy's, until remove()
                    self._forwards.append(m)
            elif isinstance(m, ELEMENTWISE_TYPES) and composite.activation_for(m) is not None:
                hook = _activation_hook(composite.activation_for(m))
            else:
                continue  # its gradient: reshapes, max pooling, layers without a rule
            self.handles.append(m.register_forward_hook(hook))

    def _rule_hook(self, op, rule):
        # a rule written before rules took out= (a user's Rule subclass that overrides
        # __call__(op, x, R, z)) still works: it gets no buffer and returns a new tensor
        takes_out = "out" in inspect.signature(rule.__call__).parameters

        def hook(module, inputs, output):
            x = inputs[0]
            reuse = takes_out and x.requires_grad and _after_rule(x)
            return _RuleFunction.apply(x, output, op, rule, self.absorbed, reuse)
        return hook

    def remove(self):
        for h in self.handles:
            h.remove()
        self.handles = []
        for m in self._forwards:
            vars(m).pop("forward", None)
        self._forwards = []

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


def _spatial_forward(module, op):
    """The layer's forward: a matrix product where its kernel spans the input's height."""
    own = type(module).forward

    def forward(x):
        return op.matmul_forward(x) if op.spans_input(x.shape) else own(module, x)

    return forward


def _activation_hook(rule):
    def hook(module, inputs, output):
        return _ActivationFunction.apply(inputs[0], output, module, rule)
    return hook

"""Activation rules: what the backward pass does at an element-wise layer.

An LRP rule (:mod:`neurolrp.lrp.rules`) redistributes relevance through a
linear layer; an activation rule says what crosses an element-wise layer
(a ReLU, an ELU, a square...) on the way back. A composite attaches both
kinds to layer types (:class:`~neurolrp.lrp.Composite`), and the engine
(:class:`~neurolrp.lrp.engine.Hooks`) installs them in one modified backward
pass. An element-wise layer with no activation rule keeps its plain gradient.

- :class:`Pass`: the signal crosses unchanged. LRP gives it to every
  element-wise layer: relevance is neither created nor destroyed there.
- :class:`Rectify`: deconvnet (Zeiler and Fergus 2014). Only positive
  signals cross, whatever the layer's input was.
- :class:`Guided`: guided backprop (Springenberg et al. 2015). The layer's
  own gradient, with only positive signals passed.
"""

import torch
from torch import nn

#: The activations deconvnet and guided backprop act on.
RELU_FAMILY = (nn.ReLU, nn.ELU, nn.LeakyReLU)


class ActivationRule:
    """Base class: subclasses define :meth:`__call__`.

    Examples
    --------
    >>> import torch
    >>> from neurolrp.lrp import Rectify
    >>> Rectify()(torch.nn.ReLU(), None, None, torch.tensor([-1.0, 2.0]))
    tensor([0., 2.])
    """

    #: Whether the rule reads the layer's forward input and output; those that do
    #: not (pass, rectify) let the engine keep neither until the backward pass.
    needs_forward = True

    def __repr__(self):
        return f"{type(self).__name__}()"

    def describe(self):
        """JSON-friendly description: the rule's name."""
        return {"rule": type(self).__name__}

    def __call__(self, module, x, out, g):
        """The signal at the layer's input.

        Parameters
        ----------
        module : torch.nn.Module
            The element-wise layer.
        x : torch.Tensor
            Its input in the forward pass.
        out : torch.Tensor
            Its output in the forward pass.
        g : torch.Tensor
            The signal (relevance or modified gradient) at its output.

        Returns
        -------
        g_in : torch.Tensor
            The signal at its input, shaped like ``x``.
        """
        raise NotImplementedError


class Pass(ActivationRule):
    """The signal crosses unchanged (LRP's rule for element-wise layers)."""

    needs_forward = False

    def __call__(self, module, x, out, g):
        return g


class Rectify(ActivationRule):
    """Deconvnet (Zeiler and Fergus 2014): ``max(g, 0)``; the forward is ignored.

    On an ELU or a leaky ReLU it does the same as on a ReLU: negative
    signals stop, positive ones cross, whatever the layer's input was.
    """

    needs_forward = False

    def __call__(self, module, x, out, g):
        return g.clamp(min=0)


class Guided(ActivationRule):
    """Guided backprop (Springenberg et al. 2015): ``max(g, 0) * f'(x)``.

    ``f'`` is the layer's own derivative, taken by autograd of its
    ``forward`` at ``x``: ``x > 0`` for a ReLU; ``1`` for ``x > 0`` and
    ``alpha * exp(x)`` below for an ELU (so an ELU lets a damped positive
    signal through where its input was negative, unlike a ReLU); ``1`` or
    ``negative_slope`` for a leaky ReLU.
    """

    def __call__(self, module, x, out, g):
        g = g.clamp(min=0)
        if isinstance(module, nn.ReLU):
            return g * (x > 0)
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            # forward, not __call__: the engine's own hook must not run again
            (g_in,) = torch.autograd.grad(module.forward(x), x, grad_outputs=g)
        return g_in

"""Composites: which rule each layer of a network gets.

A composite maps layer types to rules, with optional overrides for the first
linear layer (the one that sees the EEG) and the last one (the output layer),
following Montavon et al. 2019: LRP-epsilon/0 near the output, rules that
favour positive evidence (z-plus, gamma, alpha-beta) in the lower
convolutions, and an input-layer rule that suits the input's domain.

EEG fed to a network is z-scored: signed and unbounded. Rules for that first
layer: ``Epsilon`` (signed, gradient x input like), ``WSquare`` (the deep
Taylor rule for unbounded real input), ``Flat`` (keeps the channel, spreads
over the kernel's time taps), or ``ZBox`` with the data's range as bounds.

The default, ``"epsilon-pattern-box"``, is ``"epsilon-gamma-box"`` (LRP-epsilon
in the classifier, gamma in the convolutions, z^B with the training data's
range on the input) with one change: the convolution that mixes EEG channels
(a spatial filter, see :func:`is_spatial_filter`) gets the
:class:`~neurolrp.lrp.rules.Pattern` rule. A spatial filter's weights are
large on the channels it subtracts to cancel volume-conducted background, so
rules that follow ``w x`` spread relevance over the scalp; the pattern rule
splits it by where the detected source projects (Haufe et al. 2014;
Kindermans et al. 2018). Measured by ``benchmarks/explanation_quality.py``
(out of fold, conditional replacement; numbers in docs/composite.md): on the
simulator the default ranks the true region at ROC-AUC 0.90 (ShallowNet) and
0.83 (EEGNet), against 0.72-0.73 for epsilon-gamma-box and 0.75 for
sensitivity; its perturbation curves are above sensitivity and random on real
and simulated data. It follows the sign of each output: rules that keep only
positive contributions (z-plus, alpha-beta) ignore it, and in ShallowNet the
spatial filters feed a square, so a strongly negative filter output is as
much evidence as a positive one.

It costs about 1.7-1.9 plain gradient passes on ShallowNet and EEGNet (the
rules in closed form, see :mod:`neurolrp.lrp.rules`); the one-term composites
``"epsilon"`` and ``"zero"`` 1.2-1.7 (``benchmarks/lrp_speed.py``).

A composite also attaches activation rules (:mod:`neurolrp.lrp.activations`)
to element-wise layers: LRP composites give them all
:class:`~neurolrp.lrp.activations.Pass`. Deconvnet and guided backprop are
composites too (``GRADIENT_COMPOSITES``): no LRP rules, so linear layers keep
their gradient, and :class:`~neurolrp.lrp.activations.Rectify` or
:class:`~neurolrp.lrp.activations.Guided` on the ReLU-family activations.
They are not LRP composites: ``get_composite`` and
``explain(method="lrp", composite=...)`` refuse them.
"""

import copy
import json

from torch import nn

from .activations import RELU_FAMILY, ActivationRule, Guided, Pass, Rectify
from .layers import ELEMENTWISE_TYPES
from ..nn import Square
from .rules import (AlphaBeta, Epsilon, Flat, Gamma, Pattern, PatternEnergy, Rule, WSquare, Zero,
                    ZBox, ZPlus)

CONV = (nn.Conv1d, nn.Conv2d)
DENSE = (nn.Linear,)
POOL = (nn.AvgPool1d, nn.AvgPool2d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)


class Composite:
    """A mapping from layer to rule: LRP rules for linear layers, activation rules
    for element-wise ones.

    Parameters
    ----------
    layer_map : dict
        Layer type (or tuple of types) -> :class:`~neurolrp.lrp.rules.Rule`.
        The first matching entry wins, so put specific types first.
    first : Rule | None
        Rule for the first layer with weights, the one that sees the EEG
        (overrides ``layer_map``).
    last : Rule | None
        Rule for the last layer with weights, the classifier (overrides
        ``layer_map``).
    name : str
        Name recorded with every explanation.
    spatial : Rule | None
        Rule for the convolutions that mix EEG channels (spatial filters):
        a ``Conv2d`` whose kernel spans more than one row of its input. The
        shipped networks (and any network that unflattens ``(batch,
        channels, times)`` to ``(batch, 1, channels, times)``) keep
        electrodes on that axis until a spatial filter collapses them.
    by_name : dict | None
        Layer name -> rule, overriding everything else (used to bind rules
        that need a layer's own statistics, see :meth:`with_patterns`).
    pointwise : Rule | None
        Rule for the convolutions that only mix feature maps (kernel 1 x 1,
        more than one input map per group; see :func:`is_pointwise_mixing`),
        such as EEGNet's pointwise convolution.
    activations : dict | None
        Element-wise layer type (or tuple of types) ->
        :class:`~neurolrp.lrp.activations.ActivationRule`; the first matching
        entry wins. An element-wise layer with no entry keeps its gradient.
        ``None`` (default): :class:`~neurolrp.lrp.activations.Pass` for every
        element-wise layer, as LRP needs.

    Notes
    -----
    A linear layer's rule is, in this order: its entry in ``by_name``;
    ``spatial`` for a spatial filter (also when it is the first layer, as in
    :class:`~neurolrp.models.SturmDNN`); ``pointwise`` for a pointwise
    mixing convolution; ``first`` or ``last`` for the first
    or last layer with weights; the first matching entry of ``layer_map``.

    A composite with LRP rules (:attr:`is_lrp`) must have one for every
    linear layer (a layer left with its gradient would mix gradient and
    relevance); one with none (empty ``layer_map`` and no ``first``,
    ``last``, ``spatial``, ``pointwise``, ``by_name``) is a modified gradient: its linear
    layers keep their gradient and only the activation rules act, as in
    deconvnet and guided backprop (``GRADIENT_COMPOSITES``).

    Examples
    --------
    >>> from torch import nn
    >>> from neurolrp.lrp import Composite, Epsilon, WSquare, ZPlus
    >>> mine = Composite({nn.Conv2d: ZPlus(), (nn.Linear, nn.AvgPool2d): Epsilon(0.25)},
    ...                  first=WSquare(), name="my-composite")
    """

    def __init__(self, layer_map, first=None, last=None, name="custom", by_name=None,
                 spatial=None, activations=None, pointwise=None):
        for key, rule in {**layer_map, **(by_name or {})}.items():
            if not isinstance(rule, Rule):
                raise TypeError(f"layer_map[{key}] must be a Rule, got {type(rule).__name__}.")
        for key, rule in (("first", first), ("last", last), ("spatial", spatial),
                          ("pointwise", pointwise)):
            if rule is not None and not isinstance(rule, Rule):
                raise TypeError(f"{key} must be a Rule or None, got {type(rule).__name__}.")
        if activations is None:
            activations = {ELEMENTWISE_TYPES: Pass()}
        for key, rule in activations.items():
            if not isinstance(rule, ActivationRule):
                raise TypeError(f"activations[{key}] must be an ActivationRule, got "
                                f"{type(rule).__name__}.")
            # a rule on a layer type the engine never hooks as element-wise would be
            # silently ignored
            types = key if isinstance(key, tuple) else (key,)
            wrong = [t for t in types
                     if not (isinstance(t, type) and issubclass(t, ELEMENTWISE_TYPES))]
            if wrong:
                raise TypeError(
                    f"activations keys must be element-wise layer types "
                    f"({', '.join(t.__name__ for t in ELEMENTWISE_TYPES)}); got "
                    f"{', '.join(getattr(t, '__name__', repr(t)) for t in wrong)}.")
        self.layer_map = dict(layer_map)
        self.first = first
        self.last = last
        self.name = name
        self.by_name = dict(by_name or {})
        self.spatial = spatial
        self.pointwise = pointwise
        self.activations = dict(activations)

    @property
    def is_lrp(self):
        """Whether the composite has LRP rules (else linear layers keep their gradient)."""
        return bool(self.layer_map or self.by_name or self.first is not None
                    or self.last is not None or self.spatial is not None
                    or self.pointwise is not None)

    def activation_for(self, module):
        """The activation rule of the element-wise layer ``module``, or None (its gradient)."""
        for types, rule in self.activations.items():
            if isinstance(module, types):
                return rule
        return None

    def rules(self):
        """Every LRP rule object of the composite (activation rules are not among them)."""
        return [r for r in (self.first, self.last, self.spatial, self.pointwise,
                            *self.layer_map.values(), *self.by_name.values()) if r is not None]

    def rule_for(self, module, position, n_layers, name=None):
        """The rule for ``module`` (called ``name``), the ``position``-th of
        ``n_layers`` layers with weights (``position`` is None for a pooling
        layer)."""
        if name is not None and name in self.by_name:
            return self.by_name[name]
        if self.spatial is not None and is_spatial_filter(module):
            return self.spatial
        if self.pointwise is not None and is_pointwise_mixing(module):
            return self.pointwise
        if position == 0 and self.first is not None:
            return self.first
        if position is not None and position == n_layers - 1 and self.last is not None:
            return self.last
        for types, rule in self.layer_map.items():
            if isinstance(module, types):
                return rule
        raise TypeError(
            f"Composite {self.name!r} has no rule for {type(module).__name__}; add it to "
            "layer_map."
        )

    def assign(self, model_layers):
        """The rule of every linear layer: the one place where first and last are decided.

        Parameters
        ----------
        model_layers : list of (str, torch.nn.Module)
            The prepared model's linear layers, input to output. The first
            and last of those with weights are the ``first`` and ``last``
            layers; pooling layers never are.

        Returns
        -------
        rules : dict
            Layer name -> :class:`~neurolrp.lrp.rules.Rule`, input to output.
        """
        weighted = [name for name, m in model_layers if hasattr(m, "weight")]
        return {name: self.rule_for(m, weighted.index(name) if name in weighted else None,
                                    len(weighted), name)
                for name, m in model_layers}

    def describe(self, model_layers):
        """JSON text: the rule of every linear layer, by name."""
        return json.dumps({name: rule.describe()
                           for name, rule in self.assign(model_layers).items()})

    def with_input_bounds(self, low, high):
        """A copy whose z^B rules get the input's bounds where they have none.

        Parameters
        ----------
        low, high : float
            Smallest and largest value the input can take (for an
            :class:`~neurolrp.EEGClassifier`: the range of its scaled
            training data, ``input_range_``). Bounds a rule already has are
            kept.

        Returns
        -------
        composite : Composite
            A new composite; this one is unchanged.
        """
        comp = copy.deepcopy(self)
        for rule in comp.rules():
            if isinstance(rule, ZBox):
                rule.low = low if rule.low is None else rule.low
                rule.high = high if rule.high is None else rule.high
        return comp

    def without_bias(self):
        """A copy whose rules leave biases out of the redistribution.

        Then all relevance reaches the input and ``sum R = score`` up to the
        stabilisers (``explain(..., ignore_bias=True)``).

        Returns
        -------
        composite : Composite
            A new composite; this one is unchanged.
        """
        comp = copy.deepcopy(self)
        for rule in comp.rules():
            rule.bias = False
        return comp

    def needs_input_bounds(self):
        """Whether a z^B rule still lacks a bound."""
        return any(isinstance(r, ZBox) and (r.low is None or r.high is None)
                   for r in self.rules())

    def needs_patterns(self):
        """Whether a :class:`~neurolrp.lrp.rules.Pattern` rule still lacks its pattern."""
        return any(isinstance(r, Pattern) and r.pattern is None for r in self.rules())

    def needs_class_patterns(self):
        """Whether a Pattern rule on ``signal="between"`` still lacks its pattern."""
        return any(isinstance(r, Pattern) and r.pattern is None and r.signal == "between"
                   for r in self.rules())

    def with_patterns(self, patterns, model_layers, class_patterns=None):
        """A copy in which every unbound Pattern rule gets its layer's pattern.

        Parameters
        ----------
        patterns : dict
            Layer name -> pattern (from :func:`neurolrp.lrp.compute_patterns`),
            for the rules on ``signal="total"``.
        model_layers : list of (str, torch.nn.Module)
            The prepared model's linear layers, input to output.
        class_patterns : dict | None
            Layer name -> between-class pattern (from
            :func:`neurolrp.lrp.compute_between_class_patterns`), for the
            rules on ``signal="between"``; required when there are any.

        Returns
        -------
        composite : Composite
        """
        by_name = dict(self.by_name)
        modules = dict(model_layers)
        for name, rule in self.assign(model_layers).items():
            m = modules[name]
            if isinstance(rule, Pattern) and rule.pattern is None:
                source = class_patterns if rule.signal == "between" else patterns
                if source is None:  # never the other kind instead: another explanation
                    raise ValueError(
                        f"The {type(rule).__name__} rule of layer {name!r} needs its between-"
                        "class pattern (signal='between'); none was given. Measure them with "
                        "neurolrp.lrp.compute_between_class_patterns.")
                if name not in source:
                    raise ValueError(f"No pattern for layer {name!r} ({type(m).__name__}); "
                                     f"the {type(rule).__name__} rule needs a layer with weights.")
                # Pattern or PatternEnergy
                by_name[name] = type(rule)(source[name], rule.signal)
        return Composite(self.layer_map, self.first, self.last, self.name, by_name, self.spatial,
                         self.activations, self.pointwise)

    def __repr__(self):
        return f"Composite({self.name!r})"


def is_spatial_filter(module):
    """Whether ``module`` is a convolution that mixes EEG channels (see Composite)."""
    return isinstance(module, nn.Conv2d) and module.kernel_size[0] > 1


def is_pointwise_mixing(module):
    """Whether ``module`` is a 1 x 1 convolution that mixes feature maps (see Composite)."""
    return (isinstance(module, CONV) and all(k == 1 for k in module.kernel_size)
            and module.in_channels // module.groups > 1)


def _lower(rule, name, first=None, last=None, spatial=None):
    return Composite({CONV: rule, DENSE: Epsilon(), POOL: Epsilon()}, first=first,
                     last=last or Epsilon(), name=name, spatial=spatial)


def _box():
    return ZBox(None, None)


#: Builders of the named composites (fresh rule objects on every call).
COMPOSITES = {
    "zero": lambda: Composite({CONV + DENSE + POOL: Zero()}, name="zero"),
    "epsilon": lambda: Composite({CONV + DENSE + POOL: Epsilon(0.25)}, last=Epsilon(),
                                 name="epsilon"),
    "epsilon-plus": lambda: _lower(ZPlus(), "epsilon-plus"),
    "epsilon-plus-flat": lambda: _lower(ZPlus(), "epsilon-plus-flat", first=Flat()),
    "epsilon-plus-wsquare": lambda: _lower(ZPlus(), "epsilon-plus-wsquare", first=WSquare()),
    "epsilon-plus-epsilon": lambda: _lower(ZPlus(), "epsilon-plus-epsilon", first=Epsilon()),
    "epsilon-gamma-box": lambda: _lower(Gamma(0.25), "epsilon-gamma-box", first=_box()),
    "epsilon-pattern-box": lambda: _lower(Gamma(0.25), "epsilon-pattern-box", first=_box(),
                                          spatial=Pattern()),
    "epsilon-energy-pattern": lambda: Composite(
        {CONV: Gamma(0.25), DENSE: Epsilon(), POOL: Flat()}, first=Pattern(), last=Epsilon(),
        name="epsilon-energy-pattern", spatial=PatternEnergy(signal="between"),
        pointwise=PatternEnergy()),
    "alpha2-beta1": lambda: _lower(AlphaBeta(2.0, 1.0), "alpha2-beta1"),
    "alpha1-beta0": lambda: _lower(AlphaBeta(1.0, 0.0), "alpha1-beta0"),
}

#: The composite :func:`neurolrp.explain` uses unless told otherwise.
DEFAULT_COMPOSITE = "epsilon-pattern-box"
#: The default of waveform networks (see :func:`default_composite`).
WAVEFORM_COMPOSITE = "epsilon-energy-pattern"


def default_composite(model):
    """The name of the composite that explains ``model`` best by default, by its family.

    Two families of EEG network read two kinds of evidence, and their
    explanations go wrong in different layers (``benchmarks/erp_explanations.py``):

    - *band-power networks* square their filtered signal (a
      :class:`~neurolrp.nn.Square` layer: ShallowNet, SturmDNN). They get
      :data:`DEFAULT_COMPOSITE`, ``"epsilon-pattern-box"``, chosen on motor
      imagery.
    - *waveform networks* mix the electrodes with a convolution (a spatial
      filter, :func:`is_spatial_filter`) and never square (EEGNet). They get
      :data:`WAVEFORM_COMPOSITE`, ``"epsilon-energy-pattern"``: the
      :class:`~neurolrp.lrp.rules.Pattern` rule on the first (temporal)
      convolution, so relevance moves along the time course of the signal
      the filter detects instead of staying where the (0.5 s long) kernel is
      centred; :class:`~neurolrp.lrp.rules.PatternEnergy` on the layers that
      only mix, so it lands where the detected signal lies on the scalp
      rather than on the filter's large weights: on the spatial filters
      with their between-class patterns (``signal="between"``: where the
      classes' mean time courses differ), on pointwise convolutions with
      their patterns; flat average pooling; gamma in the other convolutions
      and epsilon in the classifier. On EEGNet and the ERP simulator it
      raises the per-trial ROC-AUC of ``|R|`` against the truth from
      0.61-0.66 to 0.93-0.94 (readiness potential, seeds 0-2) and from 0.92
      to 0.98 (P300) (see docs/composite.md).
    - anything else gets :data:`DEFAULT_COMPOSITE`.

    Parameters
    ----------
    model : EEGClassifier | torch.nn.Module
        A fitted classifier (its ``module_`` is looked at) or a network.

    Returns
    -------
    name : str
        A key of :data:`COMPOSITES`.

    Raises
    ------
    TypeError
        ``model`` is neither.
    """
    module = getattr(model, "module_", model)
    if not isinstance(module, nn.Module):
        raise TypeError(f"model must be a fitted EEGClassifier or a torch.nn.Module, got "
                        f"{type(model).__name__}.")
    layers = list(module.modules())
    if any(isinstance(m, Square) for m in layers):
        return DEFAULT_COMPOSITE
    if any(is_spatial_filter(m) for m in layers):
        return WAVEFORM_COMPOSITE
    return DEFAULT_COMPOSITE


#: Builders of the modified-gradient composites (not LRP): no LRP rules, so
#: linear layers keep their gradient; an activation rule on the ReLU family.
GRADIENT_COMPOSITES = {
    "deconvnet": lambda: Composite({}, name="deconvnet", activations={RELU_FAMILY: Rectify()}),
    "guided-backprop": lambda: Composite({}, name="guided-backprop",
                                         activations={RELU_FAMILY: Guided()}),
}


def get_composite(composite):
    """A :class:`Composite` from a name in ``COMPOSITES`` (the LRP composites) or a Composite."""
    if isinstance(composite, Composite):
        return composite
    if isinstance(composite, str) and composite in GRADIENT_COMPOSITES:
        raise ValueError(f"{composite!r} is not an LRP composite but a method of its own: use "
                         f"explain(..., method={composite!r}).")
    if composite not in COMPOSITES:
        raise ValueError(f"composite must be a Composite or one of {sorted(COMPOSITES)}, got "
                         f"{composite!r}.")
    return COMPOSITES[composite]()

"""LRP rules: small objects that redistribute relevance through one linear layer.

A rule sees a linear layer as ``z = op(x, w, b)`` (a convolution, a dense layer
or an average pooling written as a convolution). It is a sum of *terms*, each
a modified input ``x_k``, modified parameters ``(w_k, b_k)`` and a coefficient
``c_k``; the relevance of the layer's input is

    R_in = sum_k c_k * x_k * (W_k^T s_k),     s_k = R_out * g_k / d_k,

with ``d_k`` the rule's (stabilised) denominator and ``g_k`` a 0/1 mask
(Montavon et al. 2019, Sect. 10.2; Bach et al. 2015). ``W_k^T s_k`` is the
vector-Jacobian product of the layer, so every rule works on every linear
layer type. The relevance a layer keeps for itself (biases and stabilisers)
is returned beside ``R_in`` so that conservation can be accounted for.
"""

import torch


def stabilize(z, epsilon):
    """``z + epsilon * sign(z)``, with ``sign(0) = 1`` (never divides by 0)."""
    return z + torch.where(z >= 0, epsilon, -epsilon)


def _pos(t):
    return None if t is None else t.clamp(min=0)


def _neg(t):
    return None if t is None else t.clamp(max=0)


class Rule:
    """Base class: subclasses define :meth:`terms` and :meth:`scales`.

    ``terms(x, w, b)`` returns a list of ``(x_k, w_k, b_k, c_k)``;
    ``scales(z_terms, z, R)`` returns the list of ``s_k`` given every term's
    output (bias included) and the layer's true output ``z``.

    Biases: by default a rule counts the bias in its denominators, so the
    bias keeps its share of the relevance (reported as absorbed). Setting
    ``rule.bias = False`` ignores biases in the redistribution, so that all
    relevance reaches the input (``explain(..., ignore_bias=True)``).
    """

    bias = True

    def __repr__(self):
        params = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({params})"

    def params(self):
        return {}

    def describe(self):
        """JSON-friendly description: name, parameters, bias handling."""
        return {"rule": type(self).__name__, **{k: float(v) for k, v in self.params().items()},
                "bias": bool(self.bias)}

    def __call__(self, op, x, R, z=None):
        """Relevance of the input and the relevance the layer absorbs.

        Parameters
        ----------
        op : LinearOp
            The layer.
        x : torch.Tensor
            The layer's input (batch first).
        R : torch.Tensor
            Relevance of the layer's output.
        z : torch.Tensor | None
            The layer's output from the forward pass, if at hand (saves
            recomputing it).

        Returns
        -------
        R_in : torch.Tensor
            Relevance of the input, same shape as ``x``.
        absorbed : torch.Tensor, shape (batch,)
            ``sum(R) - sum(R_in)`` as the rule intends it (bias and
            stabiliser shares), computed from the forward quantities only.
        """
        x = x.detach()
        w, b = op.params(x)
        if z is None:
            z = op(x, w, b)
        if not self.bias:
            b = None
        dims = tuple(range(1, R.dim()))
        R_in = None
        kept = 0.0
        terms = self.terms(x, w, b)
        z_terms = []
        for x_k, w_k, b_k, _ in terms:
            if x_k is x and w_k is w and b_k is op.module_bias:
                z_terms.append(z)  # the layer itself: reuse its forward output
            elif x_k is x and w_k is w:  # the layer's own map with another bias
                z_k = z if op.module_bias is None else z - op.bias_view(op.module_bias)
                z_terms.append(z_k if b_k is None else z_k + op.bias_view(b_k))
            else:
                z_k = op(x_k, w_k, None)
                z_terms.append(z_k if b_k is None else z_k + op.bias_view(b_k))
        scales = self.scales(z_terms, z, R)
        for (x_k, w_k, b_k, c_k), z_k, s_k in zip(terms, z_terms, scales):
            contrib = op.vjp(s_k, x, w_k, identity=w_k is w) * x_k
            if c_k != 1.0:
                contrib = contrib * c_k
            R_in = contrib if R_in is None else R_in + contrib
            # what reaches the input: sum_j s_j (z_j - b_j), from forward quantities
            reach = (s_k * z_k).sum(dim=dims)
            if b_k is not None:
                reach = reach - (s_k.sum(dim=dims[1:]) * b_k).sum(dim=1) if s_k.dim() > 2 \
                    else reach - (s_k * b_k).sum(dim=1)
            kept = kept + c_k * reach
        return R_in, R.sum(dim=dims) - kept


class Epsilon(Rule):
    """LRP-epsilon: ``R_i = sum_j x_i w_ij / (z_j + eps sign(z_j)) R_j``.

    Parameters
    ----------
    epsilon : float
        Stabiliser; it absorbs the relevance of weak outputs. ``0`` gives
        LRP-0 (then only exact zeros are guarded).
    """

    def __init__(self, epsilon=1e-6):
        self.epsilon = epsilon

    def params(self):
        return {"epsilon": self.epsilon}

    def terms(self, x, w, b):
        return [(x, w, b, 1.0)]

    def scales(self, z_terms, z, R):
        return [R / stabilize(z_terms[0], self.epsilon if self.epsilon else 1e-12)]


class Zero(Epsilon):
    """LRP-0 (Bach et al. 2015): LRP-epsilon with ``epsilon = 0``."""

    def __init__(self):
        super().__init__(0.0)

    def params(self):
        return {}


class Gamma(Rule):
    """LRP-gamma in the form that also handles negative inputs.

    Positive contributions are amplified by ``gamma`` for outputs ``z > 0``
    (``(w + gamma w+) x+`` and ``(w + gamma w-) x-``), negative ones for
    ``z < 0``; equal to Montavon et al.'s gamma rule for positive inputs
    (as zennit's generalised ``Gamma``).

    Parameters
    ----------
    gamma : float
        Amplification of the contributions that agree in sign with the output.
    epsilon : float
        Stabiliser of the denominators.
    """

    def __init__(self, gamma=0.25, epsilon=1e-6):
        self.gamma = gamma
        self.epsilon = epsilon

    def params(self):
        return {"gamma": self.gamma, "epsilon": self.epsilon}

    def terms(self, x, w, b):
        g = self.gamma
        xp, xn = x.clamp(min=0), x.clamp(max=0)
        wp, wn = w + g * w.clamp(min=0), w + g * w.clamp(max=0)
        bp = None if b is None else b + g * b.clamp(min=0)
        bn = None if b is None else b + g * b.clamp(max=0)
        return [(xp, wp, bp, 1.0), (xn, wn, None, 1.0), (xp, wn, bn, 1.0), (xn, wp, None, 1.0)]

    def scales(self, z_terms, z, R):
        pos = R * (z > 0) / stabilize(z_terms[0] + z_terms[1], self.epsilon)
        neg = R * (z < 0) / stabilize(z_terms[2] + z_terms[3], self.epsilon)
        return [pos, pos, neg, neg]


class AlphaBeta(Rule):
    """LRP-alpha-beta (Bach et al. 2015), for signed inputs.

    ``R_i = sum_j (alpha z+_ij / z+_j - beta z-_ij / z-_j) R_j`` with
    positive contributions ``w+ x+ + w- x-`` (plus the positive bias) and
    negative ones ``w- x+ + w+ x-`` (plus the negative bias).

    Parameters
    ----------
    alpha, beta : float
        Non-negative, ``alpha - beta = 1``. ``(2, 1)`` and ``(1, 0)`` are
        common; ``(1, 0)`` is z-plus.
    epsilon : float
        Stabiliser of the denominators.
    """

    def __init__(self, alpha=2.0, beta=1.0, epsilon=1e-6):
        if alpha < 0 or beta < 0 or abs(alpha - beta - 1) > 1e-9:
            raise ValueError(f"AlphaBeta needs alpha, beta >= 0 and alpha - beta = 1; got "
                             f"alpha={alpha}, beta={beta}.")
        self.alpha = alpha
        self.beta = beta
        self.epsilon = epsilon

    def params(self):
        return {"alpha": self.alpha, "beta": self.beta, "epsilon": self.epsilon}

    def terms(self, x, w, b):
        xp, xn = x.clamp(min=0), x.clamp(max=0)
        wp, wn = w.clamp(min=0), w.clamp(max=0)
        a, c = self.alpha, -self.beta
        return [(xp, wp, _pos(b), a), (xn, wn, None, a), (xp, wn, _neg(b), c), (xn, wp, None, c)]

    def scales(self, z_terms, z, R):
        pos = R / stabilize(z_terms[0] + z_terms[1], self.epsilon)
        neg = R / stabilize(z_terms[2] + z_terms[3], self.epsilon)
        return [pos, pos, neg, neg]


class ZPlus(AlphaBeta):
    """z-plus (Montavon et al. 2017): only positive contributions; alpha=1, beta=0."""

    def __init__(self, epsilon=1e-6):
        super().__init__(1.0, 0.0, epsilon)

    def params(self):
        return {"epsilon": self.epsilon}

    def terms(self, x, w, b):
        return super().terms(x, w, b)[:2]

    def scales(self, z_terms, z, R):
        s = R / stabilize(z_terms[0] + z_terms[1], self.epsilon)
        return [s, s]


class Flat(Rule):
    """Flat (Lapuschkin et al. 2019): inputs and weights taken as 1.

    Each output's relevance is spread evenly over the inputs it sees: where in
    the receptive field it came from is given up, which input it came from
    (for EEG: which channel) is kept.
    """

    def terms(self, x, w, b):
        return [(torch.ones_like(x), torch.ones_like(w), None, 1.0)]

    def scales(self, z_terms, z, R):
        return [R / stabilize(z_terms[0], 1e-12)]


class WSquare(Rule):
    """w-square (Montavon et al. 2017): ``R_i = sum_j w_ij^2 / sum_i w_ij^2 R_j``.

    The deep-Taylor rule for unbounded (real-valued) input, such as z-scored
    EEG: relevance follows the squared weights, not the input's sign.
    """

    def terms(self, x, w, b):
        return [(torch.ones_like(x), w * w, None, 1.0)]

    def scales(self, z_terms, z, R):
        return [R / stabilize(z_terms[0], 1e-12)]


class ZBox(Rule):
    """z^B (Montavon et al. 2017) for input bounded by ``low <= x <= high``.

    Parameters
    ----------
    low, high : float | None
        Bounds of the input. ``None``: set by :func:`neurolrp.explain` to the
        range of the classifier's (scaled) training data, or for a plain
        network to the range of the explained data.
    epsilon : float
        Stabiliser of the denominator.
    """

    def __init__(self, low=None, high=None, epsilon=1e-6):
        self.low = low
        self.high = high
        self.epsilon = epsilon

    def params(self):
        return {k: v for k, v in (("low", self.low), ("high", self.high),
                                  ("epsilon", self.epsilon)) if v is not None}

    def terms(self, x, w, b):
        if self.low is None or self.high is None:
            raise ValueError("ZBox needs low and high bounds of the input.")
        low = torch.full_like(x, float(self.low))
        high = torch.full_like(x, float(self.high))
        return [(x, w, b, 1.0), (low, w.clamp(min=0), None, -1.0),
                (high, w.clamp(max=0), None, -1.0)]

    def scales(self, z_terms, z, R):
        s = R / stabilize(z_terms[0] - z_terms[1] - z_terms[2], self.epsilon)
        return [s, s, s]


class Pattern(Rule):
    """PatternAttribution (Kindermans et al. 2018) as a rule: relevance follows the signal.

    ``R_i = sum_j w_ij a_ij R_j`` with the pattern ``a_j = cov(x, y_j) /
    var(y_j)`` of output ``j`` measured on the training data, so that
    ``sum_i w_ij a_ij = 1``: each output's relevance is split over its inputs
    by how much of the signal it detects comes from each of them.

    Why EEG needs it: a spatial filter that isolates a sensorimotor rhythm
    also subtracts the channels around it to cancel background activity
    spread by volume conduction. Its weights are large on those distractor
    channels although they carry none of the rhythm, so a rule that follows
    ``w_ij x_i`` (LRP-0, epsilon, gamma) spreads relevance over the scalp in
    large positive and negative terms that cancel. The pattern is what the
    filter's output looks like on the scalp (Haufe et al. 2014): it is large
    where the detected source projects and small on the distractors, and
    ``w_ij a_ij`` is large only where both are.

    The split is the same at every time sample (the pattern is a statistic of
    the training data); *when* the evidence arrives comes from the layers
    above. The bias is not redistributed, so all relevance passes the layer.

    Parameters
    ----------
    pattern : torch.Tensor | None
        ``a``, shaped like the layer's weight. ``None``: bound by
        :func:`neurolrp.explain` from the classifier's ``patterns_``
        (measured at fit on the training data, see
        :func:`neurolrp.lrp.compute_patterns`).
    """

    def __init__(self, pattern=None):
        self.pattern = pattern

    def describe(self):
        return {"rule": "Pattern", "bias": False,
                "pattern": "unbound" if self.pattern is None else "bound"}

    def terms(self, x, w, b):
        if self.pattern is None:
            raise ValueError("Pattern needs the layer's pattern; explain a fitted "
                             "EEGClassifier or bind patterns with Composite.with_patterns.")
        a = self.pattern.to(device=w.device, dtype=w.dtype)
        if a.shape != w.shape:
            raise ValueError(f"Pattern of shape {tuple(a.shape)} does not fit a weight of shape "
                             f"{tuple(w.shape)}; was it measured on another model?")
        return [(torch.ones_like(x), w * a, None, 1.0)]

    def scales(self, z_terms, z, R):
        return [R / stabilize(z_terms[0], 1e-12)]

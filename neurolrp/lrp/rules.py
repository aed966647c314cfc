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

Speed: :meth:`Rule.propagate` computes a rule from its terms, one
convolution and one transposed convolution per term. The built-in rules
override it with closed forms of the same sums: with ``x = x+ + x-`` and
``w = w+ + w-``, a sum of sign-split terms is one convolution of ``[x+,
x-]`` (or two, see :func:`_split`), transposed terms that share a scale are
one transposed convolution with their weights stacked (the scale, often the
largest tensor of the pass, is read once), and terms whose input is a
constant (z^B's bounds, the ones of flat, w-square and pattern) are the same
for every trial and are computed for one. Gamma with the layer's own bias
then costs one extra convolution and two transposed ones (four and four from
its terms), z-plus one and one (stacked), z^B and the constant-input rules
one transposed convolution. ``tests/test_lrp.py`` checks every closed form
against the terms, in float64.

Memory (CPU): a rule's temporaries are the size of the layer's input or
output, and the largest of those (ShallowNet's first layer: 2.6 MB per trial
of 64 x 640 samples) pass glibc's mmap threshold (at most 32 MiB unless the
program sets it) from a batch of 13 trials on. Such a temporary is mapped
fresh from the kernel and returned on every batch: 625 page faults per trial
each, which cost more than the arithmetic (measured in
``benchmarks/explain_profile.py``). So the built-in closed forms keep their
large temporaries in the layer's :class:`~neurolrp.lrp.layers.Workspace`
(kept from batch to batch, written with ``out=``) and write the relevance of
the input in place into one output tensor, and :meth:`Rule.__call__` runs
them over chunks of the batch of at most :data:`CHUNK_BYTES` of the layer's
largest tensor, which bounds what a workspace holds. Chunks are large: each
costs one synchronisation of the thread pool per operation, and with 8 MiB
chunks (3 trials of ShallowNet's first layer) a pass took 2-3 times the CPU
time with 2 threads on the loaded 2-core machine, for no fewer page faults.
Results are those of the whole batch at once, up to float round-off.
"""


import torch

#: Bytes of a layer's largest tensor (input or output) per chunk of a CPU batch (ShallowNet's
#: first layer on 64 x 640 samples: 51 trials).
CHUNK_BYTES = 128 << 20
#: Fewest trials per chunk: convolutions of one trial take slower paths.
MIN_CHUNK_TRIALS = 2

def chunk_trials(x, z):
    """Trials per chunk of a layer's batch (all of them off the CPU).

    Parameters
    ----------
    x, z : torch.Tensor
        The layer's input and output, batch first.

    Returns
    -------
    n : int
        The most trials whose largest tensor fits :data:`CHUNK_BYTES`, at
        least :data:`MIN_CHUNK_TRIALS`.
    """
    if x.device.type != "cpu" or len(x) == 0:
        return max(len(x), 1)
    per_trial = max(x[:1].numel(), z[:1].numel()) * x.element_size()
    return max(MIN_CHUNK_TRIALS, CHUNK_BYTES // max(per_trial, 1))


def stabilize(z, epsilon):
    """``z + epsilon * sign(z)``, never dividing by 0: ``sign(+0) = 1``, ``sign(-0) = -1``."""
    return z + torch.copysign(z.new_tensor(epsilon), z)


def _divide(R, den_raw, epsilon):
    """``R / stabilize(den_raw, epsilon)``, without a temporary the size of ``R``."""
    den = torch.copysign(den_raw.new_tensor(epsilon), den_raw).add_(den_raw)
    return torch.div(R, den, out=den) if den.shape == R.shape else R / den


def _divide_into(R, den_raw, epsilon, out, ws):
    """``R / stabilize(den_raw, epsilon)`` written into ``out`` (which may be ``R``, not
    ``den_raw``); the stabilised denominator goes to the workspace's ``"stab"``.

    The same operations as :func:`_divide` (copysign, add, divide: the fastest
    of the forms measured, see ``benchmarks/explain_profile.py``), so the same
    numbers.
    """
    stab = ws.tensor("stab", den_raw.shape, den_raw)
    torch.copysign(den_raw.new_tensor(epsilon), den_raw, out=stab).add_(den_raw)
    return torch.div(R, stab, out=out)


def _dot(a, b):
    """Per-trial ``sum(a * b)``; ``b`` may have a batch of 1 (the same for every trial).

    Not a matrix product: torch's summation is pairwise, so the accounted
    conservation stays at float32 round-off for sums over 10^5-10^6 terms.
    """
    return (a * b).sum(dim=tuple(range(1, a.dim())))


def _dot_consuming(scale, b):
    """``_dot(scale, b)``, written over ``scale`` (a rule's own scratch, used up by now).

    Saves a temporary the size of the layer's output: on a GPU that is the
    peak memory of the pass (ShallowNet's first layer: 2.6 MB per trial of
    64 x 640 samples).
    """
    return scale.mul_(b).sum(dim=tuple(range(1, scale.dim())))


def _bias_dot(s, b):
    """Per-trial ``sum(s * b)`` for a bias ``b`` broadcast over the output."""
    if b is None:
        return 0.0
    if s.dim() > 2:
        s = s.sum(dim=tuple(range(2, s.dim())))
    return s @ b


def _without_bias(op, z, ws=None):
    """The layer's output without its own bias, ``op(x, w, 0)`` (in ``ws``'s ``"z0"``)."""
    if op.module_bias is None:
        return z
    if ws is None:
        return z - op.bias_view(op.module_bias)
    return torch.sub(z, op.bias_view(op.module_bias), out=ws.tensor("z0", z.shape, z))


def _abs_weight(op, w):
    """``|w|``; pooling's averaging weights are already non-negative."""
    return w if op.kind == "pool" else w.abs()


def _with_bias(op, z, b, ws=None, name="zb"):
    if b is None:
        return z
    if ws is None:
        return z + op.bias_view(b)
    return torch.add(z, op.bias_view(b), out=ws.tensor(name, z.shape, z))


def _output_with(op, z, b, ws=None):
    """The layer's output with bias ``b`` (or none) in place of its own."""
    if b is op.module_bias:
        return z
    return _with_bias(op, _without_bias(op, z, ws), b, ws)


def _side_by_side(parts, groups):
    """Tensors joined along the channels, side by side within each of ``groups`` groups."""
    if groups == 1:
        return torch.cat(parts, dim=1)
    return torch.cat([p.unflatten(1, (groups, -1)) for p in parts], dim=2).flatten(1, 2)


def _split(op, xp, xn, first, second):
    """``op(x+, first) + op(x-, second)``, each sign's contributions summed as such.

    Not as a difference of larger numbers (``op(x, w)`` and ``op(|x|, |w|)``
    would give these sums with fewer convolutions): alpha-beta's
    denominators are 0 where a sign has no contributions, and gamma's can be
    near 0 when biases are ignored; a rounding error divided by epsilon is
    not relevance. One convolution of ``[x+, x-]`` side by side where the
    layer reads one channel per group (then twice the channels cost about
    the same), else two (measured: the copy of a many-channel input costs
    more than the second call).
    """
    if op.kind == "pool":  # depthwise: two cheap poolings
        return op(xp, first, None).add_(op(xn, second, None))
    groups = getattr(op.module, "groups", 1)
    if xp.shape[1] == groups:
        return op(_side_by_side([xp, xn], groups), torch.cat([first, second], dim=1), None)
    return op(xp, first, None).add_(op(xn, second, None))


def _kept(op, w, key, compute):
    """``compute()``, kept on the layer's ``op`` for later passes while ``w`` and ``key`` hold.

    The terms whose input is a constant (z^B's bounds, the ones of flat,
    w-square and pattern) depend on the weights and the input's shape, not on
    the trials. An :class:`~neurolrp.Explainer` installs its hooks, and so
    its ops, once: kept here, one trial does not pay for them on every call
    (ShallowNet's z^B bounds are two convolutions the size of its first
    layer). The weight itself is held and compared by identity and in-place
    version, so changed weights are never served stale values.
    """
    entry = op.__dict__.get("_kept")
    if entry is None or entry[0] is not w or entry[1] != w._version or entry[2] != key:
        entry = op._kept = (w, w._version, key, compute())
    return entry[3]


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

    def __call__(self, op, x, R, z=None, out=None):
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
        out : torch.Tensor | None
            Contiguous, shaped like ``x``: where to write ``R_in`` (the
            engine passes a buffer it reuses across batches); None: a new
            tensor.

        Returns
        -------
        R_in : torch.Tensor
            Relevance of the input, same shape as ``x`` (``out`` if given).
        absorbed : torch.Tensor, shape (batch,)
            ``sum(R) - sum(R_in)`` as the rule intends it (bias and
            stabiliser shares), computed from the forward quantities only.

        Notes
        -----
        The built-in rules run over chunks of the batch on the CPU (see the
        module's notes); a rule that overrides :meth:`propagate` sees the
        whole batch.
        """
        with torch.no_grad():  # relevance is computed, not differentiated
            return self._call(op, x.detach(), R, z, out)

    def _call(self, op, x, R, z, out):
        w, b = op.params(x)
        if z is None:
            z = op(x, w, b)
        b = b if self.bias else None
        if type(self).propagate is not _ClosedForm.propagate:
            R_in, kept = self.propagate(op, x, R, z, w, b)
            if out is not None:
                R_in = out.copy_(R_in)
        else:
            R_in = x.new_empty(x.shape) if out is None else out
            n, step = len(x), chunk_trials(x, z)
            if step >= n:
                kept = self._into(op, x, R, z, w, b, R_in)
            else:
                kept = x.new_zeros(n)
                for start in range(0, n, step):
                    sl = slice(start, start + step)
                    kept[sl] = self._into(op, x[sl], R[sl], z[sl], w, b, R_in[sl])
        return R_in, R.sum(dim=tuple(range(1, R.dim()))) - kept

    def propagate(self, op, x, R, z, w, b):
        """``R_in`` and what reaches the input, ``sum_k c_k sum_j s_kj (z_kj - b_kj)``.

        Computed from :meth:`terms` and :meth:`scales`: the definition, and
        the path a new rule takes. Built-in rules override it with a closed
        form of the same sum (see the module's notes).

        Parameters
        ----------
        op : LinearOp
            The layer.
        x : torch.Tensor
            The layer's input, detached.
        R : torch.Tensor
            Relevance of the layer's output.
        z : torch.Tensor
            The layer's output (its own bias included).
        w, b : torch.Tensor
            The layer's weight and the bias the rule counts (None when the
            layer has none or the rule ignores biases).

        Returns
        -------
        R_in : torch.Tensor
        kept : torch.Tensor, shape (batch,)
            Computed from forward quantities (outputs of the terms), not from
            ``R_in``, so that conservation accounted this way checks the
            backward.
        """
        z_terms = []
        terms = self.terms(x, w, b)
        for x_k, w_k, b_k, _ in terms:
            if x_k is x and w_k is w and b_k is op.module_bias:
                z_terms.append(z)  # the layer itself: reuse its forward output
            elif x_k is x and w_k is w:  # the layer's own map with another bias
                z_k = _without_bias(op, z)
                z_terms.append(z_k if b_k is None else z_k + op.bias_view(b_k))
            else:
                z_k = op(x_k, w_k, None)
                z_terms.append(z_k if b_k is None else z_k + op.bias_view(b_k))
        scales = self.scales(z_terms, z, R)
        R_in, kept = None, 0.0
        for (x_k, w_k, b_k, c_k), z_k, s_k in zip(terms, z_terms, scales):
            contrib = op.vjp(s_k, x.shape, w_k, own=w_k is w) * x_k
            if c_k != 1.0:
                contrib = contrib * c_k
            R_in = contrib if R_in is None else R_in + contrib
            kept = kept + c_k * (_dot(s_k, z_k) - _bias_dot(s_k, b_k))
        return R_in, kept


class _ClosedForm(Rule):
    """A built-in rule: :meth:`_into` computes the closed form into a given output."""

    def propagate(self, op, x, R, z, w, b):
        out = x.new_empty(x.shape)
        return out, self._into(op, x, R, z, w, b, out)

    def _into(self, op, x, R, z, w, b, out):
        """Write ``R_in`` into ``out``; return what reaches the input (see :meth:`propagate`)."""
        raise NotImplementedError


def _times_input(v, x, out):
    """``v * x`` into ``out`` (``v`` may be ``out`` itself)."""
    return torch.mul(v, x, out=out)


class Epsilon(_ClosedForm):
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

    def _into(self, op, x, R, z, w, b, out):
        ws = op.workspace
        zb = _output_with(op, z, b, ws)
        s = _divide_into(R, zb, self.epsilon if self.epsilon else 1e-12,
                         ws.tensor("s", zb.shape, zb), ws)
        to_bias = _bias_dot(s, b)
        _times_input(op.vjp(s, x.shape, w, own=True, out=out), x, out)
        return _dot_consuming(s, zb) - to_bias


class Zero(Epsilon):
    """LRP-0 (Bach et al. 2015): LRP-epsilon with ``epsilon = 0``."""

    def __init__(self):
        super().__init__(0.0)

    def params(self):
        return {}


class Gamma(_ClosedForm):
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

    def _into(self, op, x, R, z, w, b, out):
        g = self.gamma
        if b is op.module_bias:
            return self._counting_bias_into(op, x, R, z, w, b, out)
        ws = op.workspace
        xp = torch.clamp(x, min=0, out=ws.tensor("xp", x.shape, x))
        xn = torch.clamp(x, max=0, out=ws.tensor("xn", x.shape, x))
        wp, wn = w + g * w.clamp(min=0), w + g * w.clamp(max=0)
        z_pos, z_neg = _split(op, xp, xn, wp, wn), _split(op, xp, xn, wn, wp)
        s_pos = _divide(R * (z > 0), _with_bias(op, z_pos, _gamma_bias(b, g, 1)), self.epsilon)
        s_neg = _divide(R * (z < 0), _with_bias(op, z_neg, _gamma_bias(b, g, -1)), self.epsilon)
        pp, pn = op.vjp_shared(s_pos, x.shape, [wp, wn])
        np_, nn_ = op.vjp_shared(s_neg, x.shape, [wn, wp])
        torch.mul(pp.add_(np_), xp, out=out).add_(pn.add_(nn_).mul_(xn))
        return _dot(s_pos, z_pos) + _dot(s_neg, z_neg)

    def _counting_bias_into(self, op, x, R, z, w, b, out):
        """With the layer's own bias (or none) the denominators are at least ``|z|``
        (gamma adds contributions of the output's sign), so sums of both signs may
        come from ``op(x, w)`` and one convolution of ``op(|x|, |w|)``."""
        g, ws = self.gamma, op.workspace
        z0 = _without_bias(op, z, ws)
        xa = torch.abs(x, out=ws.tensor("xa", x.shape, x))
        wa = _abs_weight(op, w)
        agree = op(xa, wa, None).add_(z0).mul_(0.5)  # x+ w+ + x- w-
        z_pos = torch.add(z0, agree, alpha=g, out=ws.tensor("zp", z.shape, z))
        z_neg = agree.neg_().add_(z0).mul_(g).add_(z0)  # z0 + g (x+ w- + x- w+)
        s_pos = torch.mul(R, z > 0, out=ws.tensor("sp", z.shape, z))
        _divide_into(s_pos, _with_bias(op, z_pos, _gamma_bias(b, g, 1), ws), self.epsilon,
                     s_pos, ws)
        s_neg = torch.mul(R, z < 0, out=ws.tensor("sn", z.shape, z))
        _divide_into(s_neg, _with_bias(op, z_neg, _gamma_bias(b, g, -1), ws), self.epsilon,
                     s_neg, ws)
        # x+ (wp's+ + wn's-) + x- (wn's+ + wp's-), wp/wn = w + g w+/-, with
        # w+/- = (w +/- |w|) / 2 and x+/- = (x +/- |x|) / 2
        s_sum = torch.add(s_pos, s_neg, out=ws.tensor("s_sum", z.shape, z))
        v_sum = op.vjp(s_sum, x.shape, w, own=True, out=out)
        torch.mul(v_sum, x, out=out).mul_(1 + g / 2)
        s_diff = torch.sub(s_pos, s_neg, out=s_sum)
        v_diff = op.vjp(s_diff, x.shape, wa, own=wa is w, out=ws.tensor("v", x.shape, x))
        out.add_(v_diff.mul_(xa).mul_(g / 2))
        return _dot_consuming(s_pos, z_pos) + _dot_consuming(s_neg, z_neg)


def _gamma_bias(b, g, sign):
    if b is None:
        return None
    return b + g * (b.clamp(min=0) if sign > 0 else b.clamp(max=0))


class AlphaBeta(_ClosedForm):
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

    def _into(self, op, x, R, z, w, b, out):
        a, beta, ws = self.alpha, self.beta, op.workspace
        wp, wn = w.clamp(min=0), w.clamp(max=0)
        xp = torch.clamp(x, min=0, out=ws.tensor("xp", x.shape, x))
        xn = torch.clamp(x, max=0, out=ws.tensor("xn", x.shape, x))
        A = _split(op, xp, xn, wp, wn)  # positive contributions
        u = _divide_into(R, _with_bias(op, A, _pos(b), ws), self.epsilon,
                         ws.tensor("s", A.shape, A), ws)
        up, un = op.vjp_shared(u.mul(a) if a != 1 else u, x.shape, [wp, wn])
        torch.mul(up, xp, out=out).add_(un.mul_(xn))
        kept = a * _dot(u, A)
        if beta != 0:
            B = _split(op, xp, xn, wn, wp)  # negative contributions
            v = _divide_into(R, _with_bias(op, B, _neg(b), ws), self.epsilon, u, ws)
            vn, vp = op.vjp_shared(v.mul(beta), x.shape, [wn, wp])
            out.sub_(vn.mul_(xp).add_(vp.mul_(xn)))
            kept = kept - beta * _dot(v, B)
        return kept


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


class _ConstantInputRule(_ClosedForm):
    """A rule of one term whose input is all ones: ``R_i = sum_j v_ij / sum_i v_ij R_j``.

    ``v = weight(w)``; its denominators are the same for every trial, so they
    are computed for one.
    """

    def weight(self, w):
        raise NotImplementedError

    def terms(self, x, w, b):
        return [(torch.ones_like(x), self.weight(w), None, 1.0)]

    def scales(self, z_terms, z, R):
        return [R / stabilize(z_terms[0], 1e-12)]

    def _into(self, op, x, R, z, w, b, out):
        v, den, stab = _kept(op, w, (self, x.shape[1:], x.dtype, x.device),
                             lambda: self._constants(op, x, w))
        s = torch.div(R, stab, out=op.workspace.tensor("s", R.shape, R))
        R_in = op.vjp(s, x.shape, v, own=v is w, out=out)
        if R_in is not out:
            out.copy_(R_in)
        return _dot_consuming(s, den)

    def _constants(self, op, x, w):
        v = self.weight(w)
        den = op(x.new_ones((1, *x.shape[1:])), v, None)
        return v, den, torch.copysign(den.new_tensor(1e-12), den).add_(den)


class Flat(_ConstantInputRule):
    """Flat (Lapuschkin et al. 2019): inputs and weights taken as 1.

    Each output's relevance is spread evenly over the inputs it sees: where in
    the receptive field it came from is given up, which input it came from
    (for EEG: which channel) is kept.
    """

    def weight(self, w):
        return torch.ones_like(w)


class WSquare(_ConstantInputRule):
    """w-square (Montavon et al. 2017): ``R_i = sum_j w_ij^2 / sum_i w_ij^2 R_j``.

    The deep-Taylor rule for unbounded (real-valued) input, such as z-scored
    EEG: relevance follows the squared weights, not the input's sign.
    """

    def weight(self, w):
        return w * w


class ZBox(_ClosedForm):
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

    def _into(self, op, x, R, z, w, b, out):
        if self.low is None or self.high is None:
            raise ValueError("ZBox needs low and high bounds of the input.")
        low, high, ws = float(self.low), float(self.high), op.workspace

        def constants():  # the bounds' terms: the same for every trial
            one = x.new_ones((1, *x.shape[1:]))
            wp, wn = w.clamp(min=0), w.clamp(max=0)
            return wp, wn, op(one * low, wp, None) + op(one * high, wn, None)

        wp, wn, bounds = _kept(op, w, (self, low, high, x.shape[1:], x.dtype, x.device),
                               constants)
        den = torch.sub(_output_with(op, z, b, ws), bounds, out=ws.tensor("den", z.shape, z))
        s = _divide_into(R, den, self.epsilon, ws.tensor("s", z.shape, z), ws)
        # x w's - low w+'s - high w-'s, with w's = w+'s + w-'s
        vp, vn = op.vjp_shared(s, x.shape, [wp, wn])
        torch.sub(x, low, out=out).mul_(vp).add_(vn.mul_(x - high))
        to_bias = _bias_dot(s, b)
        return _dot_consuming(s, den) - to_bias


class Pattern(_ConstantInputRule):
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
    signal : "total" | "between"
        Which pattern an unbound rule gets: ``"total"`` the pattern of the
        whole signal (``patterns_``); ``"between"`` the between-class
        (evoked) pattern ``a_j = C_B w_j / (w_j^T C_B w_j)``, with ``C_B``
        the covariance of the class-mean time courses of the layer's input
        (``class_patterns_``, see
        :func:`neurolrp.lrp.compute_between_class_patterns`).
    """

    def __init__(self, pattern=None, signal="total"):
        if signal not in ("total", "between"):
            raise ValueError(f"signal must be 'total' or 'between', got {signal!r}.")
        self.pattern = pattern
        self.signal = signal

    def describe(self):
        return {"rule": "Pattern", "bias": False, "signal": self.signal,
                "pattern": "unbound" if self.pattern is None else "bound"}

    def weight(self, w):
        if self.pattern is None:
            raise ValueError("Pattern needs the layer's pattern; explain a fitted "
                             "EEGClassifier or bind patterns with Composite.with_patterns.")
        a = self.pattern.to(device=w.device, dtype=w.dtype)
        if a.shape != w.shape:
            raise ValueError(f"Pattern of shape {tuple(a.shape)} does not fit a weight of shape "
                             f"{tuple(w.shape)}; was it measured on another model?")
        return w * a


class PatternEnergy(Pattern):
    """Relevance split by where the detected signal lies: ``R_i = sum_j a_ij^2 / sum_i a_ij^2 R_j``.

    The pattern ``a_j`` (see :class:`Pattern`) is the direction in the
    layer's input along which the signal that output ``j`` detects varies;
    ``a_ij^2 / |a_j|^2`` is the share of that signal's energy at input
    ``i``. This rule hands each output's relevance to its inputs in those
    shares, whatever the weights: the w-square rule (:class:`WSquare`,
    Montavon et al. 2017) with the signal's direction in place of the
    filter's.

    Why: a layer that only mixes (EEGNet's depthwise spatial filters over
    the electrodes, its pointwise convolution over feature maps) is a filter
    in the sense of Haufe et al. 2014. Learned from a few hundred trials its
    weights are large and of both signs on many electrodes, so ``w_ij a_ij``
    (:class:`Pattern`) still follows the filter where it is strong, while
    the slow potential it detects reaches the scalp broadly, by volume
    conduction: on the ERP simulator (``benchmarks/erp_explanations.py``)
    ``w * a`` on EEGNet's spatial filters ranks the truth's electrodes at a
    ROC-AUC of 0.67-0.74 (readiness potential), ``a^2`` at 0.70-0.89, and
    ``a^2`` with the between-class pattern (``signal="between"``) at
    0.93-0.94.

    All relevance passes the layer (no bias share) and every share is
    non-negative, so signs come from the layers above. Like :class:`Pattern`
    it needs the layer's pattern, measured on the training data.

    Parameters
    ----------
    pattern : torch.Tensor | None
        ``a``, shaped like the layer's weight; ``None``: bound by
        :func:`neurolrp.explain` from the classifier's ``patterns_`` (or
        ``class_patterns_``, see ``signal``).
    signal : "total" | "between"
        Which pattern an unbound rule gets, as for :class:`Pattern`.
    """

    def describe(self):
        return {"rule": "PatternEnergy", "bias": False, "signal": self.signal,
                "pattern": "unbound" if self.pattern is None else "bound"}

    def weight(self, w):
        if self.pattern is None:
            raise ValueError("PatternEnergy needs the layer's pattern; explain a fitted "
                             "EEGClassifier or bind patterns with Composite.with_patterns.")
        a = self.pattern.to(device=w.device, dtype=w.dtype)
        if a.shape != w.shape:
            raise ValueError(f"Pattern of shape {tuple(a.shape)} does not fit a weight of shape "
                             f"{tuple(w.shape)}; was it measured on another model?")
        return a * a

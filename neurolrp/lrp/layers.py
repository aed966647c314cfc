"""Which layers the engine knows, and how a model is prepared for it.

Preparing a model works on a copy, never the user's model: it is traced with
``torch.fx`` so that every operation of its ``forward`` is known (a functional
call the engine cannot see would silently give a wrong heatmap), every leaf
module is checked against the supported types, and each batch norm is folded
into the convolution or dense layer before it.
"""

import copy
import operator

import torch
import torch.fx
from torch import nn
from torch.nn import functional as F

from ..nn import Log, Square

#: Layers with weights (or fixed averaging weights) that a rule handles.
LINEAR_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.AvgPool1d, nn.AvgPool2d,
                nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)
#: Element-wise functions: relevance passes through them unchanged.
ELEMENTWISE_TYPES = (nn.ReLU, nn.ELU, nn.LeakyReLU, nn.Identity, nn.Dropout, nn.Dropout1d,
                     nn.Dropout2d, Square, Log)
#: Layers whose plain gradient routes relevance correctly: reshapes, and max
#: pooling, which gives each output's relevance to the input that won
#: (winner-take-all, as in Montavon et al. 2019).
ROUTING_TYPES = (nn.Flatten, nn.Unflatten, nn.MaxPool1d, nn.MaxPool2d)
BATCHNORM_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d)
#: Every layer type the engine explains; any other is an error that names the module.
SUPPORTED_TYPES = LINEAR_TYPES + ELEMENTWISE_TYPES + ROUTING_TYPES + BATCHNORM_TYPES

#: Functions and tensor methods allowed in a traced forward: pure reshapes.
SHAPE_FUNCTIONS = {torch.flatten, torch.reshape, torch.unsqueeze, torch.squeeze,
                   torch.permute, torch.transpose, getattr}
SHAPE_METHODS = {"view", "reshape", "flatten", "unsqueeze", "squeeze", "permute", "transpose",
                 "contiguous", "size", "dim"}


#: Module types that only hold others; their own forward is traced through.
CONTAINER_TYPES = (nn.Sequential, nn.ModuleList, nn.ModuleDict)
#: Methods a supported layer's forward pass goes through: a subclass that
#: overrides any of them computes something the engine's rule does not know.
_FORWARD_METHODS = ("forward", "_conv_forward", "__call__", "_call_impl",
                    "_wrapped_call_impl")


class UnsupportedModelError(TypeError):
    """The model holds a layer or operation the LRP engine cannot explain."""


def known_type(module):
    """The supported layer type whose computation ``module`` performs, or None.

    A module counts as a supported type only if its forward pass is that
    type's own: a subclass of ``nn.ReLU`` (or of any supported layer) that
    overrides ``forward`` (or ``_conv_forward``, ``__call__``) computes
    something else and is not supported.

    Parameters
    ----------
    module : torch.nn.Module

    Returns
    -------
    base : type | None
        The most specific supported type in the module's class hierarchy,
        or None when it has none or overrides its forward pass.
    """
    supported = set(SUPPORTED_TYPES)
    base = next((t for t in type(module).__mro__ if t in supported), None)
    if base is None:
        return None
    for name in _FORWARD_METHODS:
        if getattr(type(module), name, None) is not getattr(base, name, None):
            return None
    return base


def _hooks_of(module):
    """Names of the kinds of hooks registered on ``module`` (they change its output)."""
    kinds = {"forward": "_forward_hooks", "forward pre": "_forward_pre_hooks",
             "backward": "_backward_hooks", "backward pre": "_backward_pre_hooks"}
    return [k for k, attr in kinds.items() if getattr(module, attr, None)]


def check_model(model):
    """Raise :class:`UnsupportedModelError` for anything the engine cannot explain.

    Checked on the user's model, before any copy or work: every leaf layer
    is a supported type with its own forward pass (see :func:`known_type`);
    no PyTorch layer the engine has no rule for hides inside (for example
    ``nn.MultiheadAttention``, whose parts would otherwise be traced one by
    one); no forward or backward hooks change a layer's output (weight
    normalisation and spectral norm are such hooks).

    Parameters
    ----------
    model : torch.nn.Module

    Raises
    ------
    UnsupportedModelError
        The message names every offending module and says what to do.
    """
    if not isinstance(model, nn.Module):
        raise UnsupportedModelError(f"model must be a torch.nn.Module, got "
                                    f"{type(model).__name__}.")
    unsupported, overridden, hooked, inside = [], [], [], set()
    for name, m in model.named_modules():
        if any(name.startswith(p + ".") for p in inside):
            continue  # a part of a module already named
        leaf = not list(m.children())
        from_torch = type(m).__module__.startswith("torch.")
        if isinstance(m, SUPPORTED_TYPES) and known_type(m) is None:
            overridden.append(_describe(name, m))
            inside.add(name)
        elif not isinstance(m, SUPPORTED_TYPES) and (
                leaf or (from_torch and not isinstance(m, CONTAINER_TYPES))):
            unsupported.append(_describe(name, m))
            inside.add(name)
        if _hooks_of(m):
            hooked.append(f"{_describe(name, m)}: {', '.join(_hooks_of(m))} hook")
    supported = ", ".join(sorted({t.__name__ for t in SUPPORTED_TYPES}))
    if unsupported:
        raise UnsupportedModelError(
            f"The LRP engine has no rule for {', '.join(unsupported)}. Supported layers: "
            f"{supported}. Build the model from these (see neurolrp.models)."
        )
    if overridden:
        raise UnsupportedModelError(
            f"{', '.join(overridden)} override the forward pass of a supported layer type, so "
            "they compute something the engine's rule for that type does not know. Use the "
            f"PyTorch layer itself (supported: {supported})."
        )
    if hooked:
        raise UnsupportedModelError(
            f"Hooks change what {'; '.join(hooked)} compute(s), which the engine cannot see "
            "(weight_norm and spectral_norm work this way). Remove them (e.g. "
            "torch.nn.utils.remove_weight_norm) before explaining."
        )
    import torch.nn.modules.module as _mm

    globals_ = [n for n in ("_global_forward_hooks", "_global_forward_pre_hooks",
                            "_global_backward_hooks", "_global_backward_pre_hooks")
                if getattr(_mm, n, None)]
    if globals_:
        raise UnsupportedModelError(
            f"Global module hooks are registered ({', '.join(globals_)}); they change every "
            "layer's output, which the engine cannot see. Remove them before explaining."
        )


#: Bytes of the per-tap products :meth:`LinearOp._temporal_vjp` holds at once (a chunk of
#: trials), to stay in the cache: one trial of ShallowNet's first layer (64 x 640 samples,
#: z^B's two weights) needs 4.0 MiB.
TEMPORAL_CHUNK_BYTES = 4 << 20


class Workspace:
    """Scratch tensors that a layer's rule reuses from one call to the next.

    Why: on the CPU, glibc serves every allocation above its mmap threshold
    (at most 32 MiB unless a program sets it) with fresh pages from the
    kernel and hands them back when the tensor is freed, so a temporary the
    size of a large activation costs a page fault per 4 KiB on *every*
    batch. ShallowNet's first layer on 64 x 640 samples outputs 2.6 MB per
    trial: each such temporary cost 625 faults per trial (about 3 ms per
    trial of system time on the 2-core development machine, against 0.2 ms
    for an element-wise pass over it). Memory kept here is faulted in once.

    On other devices nothing is kept (their caching allocators do this).
    """

    def __init__(self):
        self._buffers = {}

    def tensor(self, name, shape, like):
        """An uninitialised tensor of ``shape``, ``like``'s dtype and device, reused by ``name``.

        Parameters
        ----------
        name : str
            What it holds; a rule's different temporaries need different names.
        shape : tuple of int
        like : torch.Tensor

        Returns
        -------
        buffer : torch.Tensor
            Contiguous; its contents are whatever the last user left.
        """
        if like.device.type != "cpu":
            return like.new_empty(shape)
        n = 1
        for k in shape:
            n *= k
        buf = self._buffers.get(name)
        if buf is None or buf.numel() < n or buf.dtype != like.dtype:
            buf = like.new_empty(n)
            self._buffers[name] = buf
        return buf[:n].view(shape)

    def nbytes(self):
        """Bytes held."""
        return sum(b.numel() * b.element_size() for b in self._buffers.values())


class LinearOp:
    """A linear layer seen as ``z = op(x, w, b)`` with swappable parameters.

    Parameters
    ----------
    module : torch.nn.Module
        A linear layer (:data:`LINEAR_TYPES`).
    workspace : Workspace | None
        Where its rule keeps scratch tensors between calls; None: a new one
        (kept as long as this object).
    """

    def __init__(self, module, workspace=None):
        self.module = module
        self.workspace = Workspace() if workspace is None else workspace
        m = module
        if isinstance(m, nn.Linear):
            self.kind = "linear"
        elif isinstance(m, (nn.Conv1d, nn.Conv2d)):
            self.kind = "conv"
            if m.padding_mode != "zeros":
                raise UnsupportedModelError(
                    f"{type(m).__name__} with padding_mode={m.padding_mode!r} is not supported.")
        else:
            self.kind = "pool"
            if getattr(m, "ceil_mode", False):
                raise UnsupportedModelError(f"{type(m).__name__} with ceil_mode=True is not supported.")
            if getattr(m, "count_include_pad", True) is False and _nonzero(m.padding):
                raise UnsupportedModelError(
                    f"{type(m).__name__} with count_include_pad=False and padding is not supported.")
        self.ndim = 2 if isinstance(m, (nn.Conv2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d)) else 1

    def params(self, x):
        """The layer's (weight, bias); average pooling as a depthwise kernel."""
        m = self.module
        if self.kind != "pool":
            return m.weight, m.bias
        kernel, _, _ = self._pool_geometry(x)
        n = 1
        for k in kernel:
            n *= k
        w = torch.full((x.shape[1], 1, *kernel), 1.0 / n, dtype=x.dtype, device=x.device)
        return w, None

    def _pool_geometry(self, x):
        return self._pool_geometry_shape(x.shape)

    def _pool_geometry_shape(self, shape):
        m = self.module
        size = shape[2:]
        if isinstance(m, (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)):
            out = m.output_size if isinstance(m.output_size, tuple) else (m.output_size,) * self.ndim
            out = tuple(s if o is None else o for o, s in zip(out, size))
            if any(s % o for s, o in zip(size, out)):
                raise UnsupportedModelError(
                    f"{type(m).__name__}: input size {tuple(size)} is not a multiple of the "
                    f"output size {out}; the engine needs equal pooling windows.")
            kernel = tuple(s // o for s, o in zip(size, out))
            return kernel, kernel, (0,) * self.ndim
        as_tuple = (lambda v: v if isinstance(v, tuple) else (v,) * self.ndim)
        kernel = as_tuple(m.kernel_size)
        stride = as_tuple(m.stride if m.stride is not None else m.kernel_size)
        return kernel, stride, as_tuple(m.padding)

    def __call__(self, x, w, b):
        m = self.module
        if self.kind == "linear":
            return F.linear(x, w, b)
        conv = F.conv2d if self.ndim == 2 else F.conv1d
        if self.kind == "conv":
            return conv(x, w, b, m.stride, m.padding, m.dilation, m.groups)
        _, stride, padding = self._pool_geometry(x)
        return conv(x, w, b, stride, padding, 1, x.shape[1])

    @property
    def module_bias(self):
        """The layer's own bias (None for pooling or a bias-free layer)."""
        return getattr(self.module, "bias", None) if self.kind != "pool" else None

    def vjp(self, s, shape, w, own=False, out=None):
        """``W^T s``: the vector-Jacobian product of the map ``x -> op(x, w, 0)``.

        Parameters
        ----------
        s : torch.Tensor
            Shaped like the layer's output.
        shape : torch.Size
            The layer input's shape.
        w : torch.Tensor
            The weight (any weight shaped like the layer's).
        own : bool
            ``w`` is the layer's own weight, so that average pooling can use
            its own (faster) backward.
        out : torch.Tensor | None
            Contiguous, shaped like the input: written with the result where
            the product is a matrix product (dense layers, spatial filters,
            see :meth:`spans_input`); otherwise left alone.

        Returns
        -------
        v : torch.Tensor
            Shaped like the layer's input (``out`` when it was written).
        """
        if out is not None and (self.kind == "linear" or self.spans_input(shape)):
            return self._matmul_vjp(s, shape, w, out)
        return self.vjp_shared(s, shape, [w], own=own)[0]

    def spans_input(self, shape):
        """Whether the layer is a convolution whose kernel covers its input's whole height.

        A spatial filter (kernel ``(n_channels, 1)``, no padding or dilation,
        unit stride along time) is then a matrix product at every time
        sample, and so is its transpose: the vector-Jacobian product is one
        batched matrix product written straight into its output, instead
        of a transposed convolution (which reorders its input and output to
        and from a blocked layout, two more temporaries the size of the
        layer's input).
        """
        m = self.module
        return (self.kind == "conv" and self.ndim == 2 and len(shape) == 4
                and not isinstance(m.padding, str) and tuple(m.padding) == (0, 0)
                and tuple(m.dilation) == (1, 1) and m.kernel_size[1] == 1
                and m.stride[1] == 1 and m.kernel_size[0] == shape[2])

    @torch.no_grad()  # the engine's rule gives the backward; autograd keeps nothing
    def matmul_forward(self, x):
        """The layer's output ``op(x, w, b)`` as a batched matrix product.

        For a layer that :meth:`spans_input` (checked by the caller). The
        convolution would reorder its input, the largest tensor of a
        network like ShallowNet, into a blocked layout first (a fresh
        temporary of its size on every batch).
        """
        m = self.module
        n, c_in, height, times = x.shape
        groups, w = m.groups, m.weight
        per_group = w.shape[0] // groups
        z = torch.matmul(w.reshape(groups, per_group, -1),
                         x.reshape(n, groups, -1, times)).view(n, -1, 1, times)
        return z if m.bias is None else z.add_(m.bias.view(1, -1, 1, 1))

    @torch.no_grad()  # writes into a buffer: a relevance, not something to differentiate
    def _matmul_vjp(self, s, shape, w, out):
        if self.kind == "linear":
            return torch.matmul(s, w, out=out)
        groups = self.module.groups
        n, c_in, height, times = shape
        per_group = w.shape[0] // groups
        # (groups, c_in/groups * height, out per group) x (n, groups, out per group, times)
        wt = w.reshape(groups, per_group, -1).transpose(1, 2)
        torch.matmul(wt, s.reshape(n, groups, per_group, times),
                     out=out.view(n, groups, -1, times))
        return out

    def vjp_shared(self, s, shape, weights, own=False):
        """``[W_k^T s for W_k in weights]`` in one transposed convolution.

        The weights are stacked along the transposed convolution's output
        channels, so ``s`` (often the largest tensor of the pass) is read once.
        Parameters as :meth:`vjp`, with a list of weights; returns a list.
        """
        m = self.module
        if self.kind == "linear":
            return [s @ w for w in weights]
        if self.kind == "pool":
            kernel, stride, padding = self._pool_geometry_shape(shape)
            if own and self.ndim == 2 and len(weights) == 1:
                return [torch.ops.aten.avg_pool2d_backward(s, s.new_empty(shape), kernel, stride,
                                                           padding, False, True, None)]
            dilation, groups = (1,) * self.ndim, shape[1]
        else:
            stride, padding, dilation, groups = m.stride, m.padding, m.dilation, m.groups
        if isinstance(padding, str):  # "same"/"valid": let autograd work out the padding
            return [self._vjp_autograd(s, shape, w, stride, padding, dilation, groups)
                    for w in weights]
        n = len(weights)
        # side by side along the input channels: within each group of the transposed
        # convolution, the output channels of weight 1, then those of weight 2, ...
        w = torch.cat(weights, dim=1) if n > 1 else weights[0]
        if s.device.type == "cpu" and self._is_temporal(shape):
            out = self._temporal_vjp(s, shape, w)
        else:
            kernel = w.shape[2:]
            out_pad = tuple(size - ((o - 1) * st - 2 * p + d * (k - 1) + 1) for size, o, st, p,
                            d, k in zip(shape[2:], s.shape[2:], stride, padding, dilation, kernel))
            conv_t = F.conv_transpose2d if self.ndim == 2 else F.conv_transpose1d
            out = conv_t(s, w, None, stride, padding, out_pad, groups, dilation)
        if n == 1:
            return [out]
        # back from (group, weight, channel) to one tensor per weight
        out = out.unflatten(1, (groups, n, -1))
        return [out[:, :, k].flatten(1, 2) for k in range(n)]

    def _is_temporal(self, shape):
        """Whether the layer filters one input map along time only (kernel ``(1, k)``).

        With unit stride and dilation and numeric padding along time: EEG
        networks' first layer (ShallowNet's and EEGNet's temporal filters of
        the raw signal). Layers with many input maps keep the transposed
        convolution, which was faster for them (ShallowNet's last
        convolution: 0.14 ms against 0.37 ms).
        """
        m = self.module
        return (self.kind == "conv" and self.ndim == 2 and len(shape) == 4 and m.groups == 1
                and m.in_channels == 1
                and not isinstance(m.padding, str) and m.padding[0] == 0
                and m.kernel_size[0] == 1 and tuple(m.stride) == (1, 1)
                and tuple(m.dilation) == (1, 1))

    def _temporal_vjp(self, s, shape, w):
        """``W^T s`` of a temporal convolution (:meth:`_is_temporal`) on the CPU.

        One matrix product gives every kernel tap's contribution, ``U[c, k, h, t]
        = sum_f w[f, c, k] s[f, h, t]``, and the taps are added in shifted by
        ``k`` samples. torch's transposed convolution took 1.6-2.1 times as
        long for these layers, one thread (z^B's two stacked weights:
        ShallowNet's first layer on 64 x 640 samples 2.7 against 1.7 ms for
        one trial, 80 against 38 ms for 32; EEGNet's 11.4 against 7.2 ms for
        one trial). ``U`` is the size of ``s`` times ``c * k / f``, so trials
        go in chunks of at most :data:`TEMPORAL_CHUNK_BYTES` of it, which stays
        in the cache, in buffers kept in the workspace.
        """
        n, n_filters, height, t_out = s.shape
        c, k = w.shape[1], w.shape[3]
        pad, t_in = self.module.padding[1], shape[3]
        wm = w[:, :, 0, :].permute(1, 2, 0).reshape(c * k, n_filters)
        step = max(1, TEMPORAL_CHUNK_BYTES // (c * k * height * t_out * s.element_size()))
        out = s.new_empty((n, c, height, t_in))
        ws = self.workspace
        for start in range(0, n, step):
            chunk = s[start:start + step]
            m = len(chunk)
            taps = torch.matmul(wm, chunk.reshape(m, n_filters, height * t_out),
                                out=ws.tensor("taps", (m, c * k, height * t_out), s))
            taps = taps.view(m, c, k, height, t_out)
            full = ws.tensor("padded", (m, c, height, t_in + 2 * pad), s).zero_()
            for tap in range(k):
                full[..., tap:tap + t_out] += taps[:, :, tap]
            out[start:start + m] = full[..., pad:pad + t_in]
        return out

    def _vjp_autograd(self, s, shape, w, stride, padding, dilation, groups):
        conv = F.conv2d if self.ndim == 2 else F.conv1d
        with torch.enable_grad():
            x = torch.zeros(shape, dtype=s.dtype, device=s.device, requires_grad=True)
            (g,) = torch.autograd.grad(conv(x, w, None, stride, padding, dilation, groups), x, s)
        return g

    def bias_view(self, b):
        """Bias shaped to broadcast against the layer's output."""
        return b if self.kind == "linear" else b.view(1, -1, *([1] * self.ndim))


def _nonzero(padding):
    return any(p != 0 for p in (padding if isinstance(padding, tuple) else (padding,)))


class _Tracer(torch.fx.Tracer):
    """Keep every supported module (ours included) as one opaque call."""

    def is_leaf_module(self, m, qualname):
        return known_type(m) is not None or super().is_leaf_module(m, qualname)


def _is_shape(node):
    """Whether an fx node is a tensor's shape (``x.shape`` or ``x.size()``)."""
    return isinstance(node, torch.fx.Node) and (
        (node.op == "call_function" and node.target is getattr and node.args[1] == "shape")
        or (node.op == "call_method" and node.target == "size"))


def _describe(name, module):
    return f"'{name}' ({type(module).__name__})"


def _where(node):
    """'In module 'block' (Block): ' for an fx node traced inside a submodule."""
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return ""
    qualname, cls = list(stack.values())[-1]
    return f"In module '{qualname}' ({getattr(cls, '__name__', cls)}): "


def prepare_model(model):
    """A copy of ``model`` ready for the engine, and its linear layers in order.

    Parameters
    ----------
    model : torch.nn.Module
        The network to explain; it is not modified.

    Returns
    -------
    prepared : torch.nn.Module
        A copy in eval mode with batch norms folded into the layers before
        them (and replaced by ``Identity``).
    linear_names : list of str
        Qualified names of the linear layers, from input to output.

    Raises
    ------
    UnsupportedModelError
        A layer type the engine has no rule for, a functional operation in
        ``forward`` it cannot check, or a batch norm that follows no
        convolution or dense layer. The message names the module.
    """
    check_model(model)
    model = copy.deepcopy(model).eval()
    try:
        graph = _Tracer().trace(model)
    except Exception as err:  # noqa: BLE001 - any tracing failure means "cannot verify"
        raise UnsupportedModelError(
            f"The model's forward cannot be traced ({type(err).__name__}: {err}); the engine "
            "must see every operation. Write the model as an nn.Sequential of supported layers."
        ) from None
    modules = dict(model.named_modules())
    order, consumers = [], {}
    for node in graph.nodes:
        if node.op == "call_module":
            order.append(node)
        elif node.op == "call_function" and node.target is operator.getitem \
                and _is_shape(node.args[0]):
            pass  # x.shape[0]: reading a size
        elif node.op == "call_function" and node.target not in SHAPE_FUNCTIONS:
            raise UnsupportedModelError(
                f"{_where(node)}forward calls {getattr(node.target, '__name__', node.target)} "
                "outside a module; the engine cannot give it a rule. Use the module form (e.g. "
                "nn.ReLU()) instead."
            )
        elif node.op == "call_method" and node.target not in SHAPE_METHODS:
            raise UnsupportedModelError(
                f"{_where(node)}forward calls the tensor method .{node.target}() outside a "
                "module; the engine cannot give it a rule. Use a module instead."
            )
        for arg in node.all_input_nodes:
            consumers.setdefault(arg, []).append(node)

    for node in order:
        bn = modules[node.target]
        if not isinstance(bn, BATCHNORM_TYPES):
            continue
        prev = node.args[0]
        prev_mod = modules.get(prev.target) if prev.op == "call_module" else None
        if not isinstance(prev_mod, (nn.Linear, nn.Conv1d, nn.Conv2d)) or len(consumers[prev]) != 1:
            raise UnsupportedModelError(
                f"Batch norm {_describe(node.target, bn)} does not directly follow a convolution "
                "or dense layer, so it cannot be folded into one."
            )
        _fold(prev_mod, bn)
        parent, _, attr = node.target.rpartition(".")
        setattr(model.get_submodule(parent) if parent else model, attr, nn.Identity())

    for m in model.modules():
        if hasattr(m, "inplace"):
            m.inplace = False
    linear_names = [n.target for n in order if isinstance(modules[n.target], LINEAR_TYPES)]
    if not linear_names:
        raise UnsupportedModelError("The model has no linear layer to explain.")
    return model, linear_names


@torch.no_grad()
def _fold(layer, bn):
    """Fold eval-mode batch norm into the preceding layer's weight and bias."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps) if bn.affine else \
        1.0 / torch.sqrt(bn.running_var + bn.eps)
    shift = (bn.bias if bn.affine else 0.0) - bn.running_mean * scale
    shape = (-1,) + (1,) * (layer.weight.dim() - 1)
    layer.weight.mul_(scale.view(shape))
    bias = layer.bias if layer.bias is not None else torch.zeros_like(bn.running_mean)
    layer.bias = nn.Parameter(bias * scale + shift)

"""Element-wise layers shared by the networks and the LRP engine.

They live below both :mod:`neurolrp.models` (which builds networks from them)
and :mod:`neurolrp.lrp` (which knows how relevance passes them), so that the
engine never imports the models. ``neurolrp.models`` re-exports them.
"""

import torch
from torch import nn


class Square(nn.Module):
    """Element-wise square (ShallowNet's power nonlinearity)."""

    def forward(self, x):
        return x * x


class Log(nn.Module):
    """Element-wise ``log(max(x, eps)) - offset`` (log-power).

    ``offset`` (zero until set) is the average log-power of the training
    data; see :meth:`neurolrp.models.ShallowNet.center_log_power`. Its shape
    broadcasts against the input: one value per feature map by default,
    ``(1, 1, n_channels, n_windows)`` for :class:`~neurolrp.models.SturmDNN`.
    """

    def __init__(self, eps=1e-6, n_features=1, shape=None):
        super().__init__()
        self.eps = eps
        self.register_buffer("offset", torch.zeros(shape or (1, n_features, 1, 1)))

    def forward(self, x):
        return torch.log(torch.clamp(x, min=self.eps)) - self.offset

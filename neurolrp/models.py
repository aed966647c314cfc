"""Compact deep networks for EEG, built only from layers the LRP engine knows.

Every network takes a float tensor ``(batch, n_channels, n_times)`` and returns
class scores (logits, no softmax) ``(batch, n_classes)``. Kernel and pooling
lengths are given in seconds in the papers and converted with ``sfreq`` here,
so the same network fits 0.5 s at 100 Hz or 4 s at 160 Hz; a window too short
for a network is an error at construction.
"""

import math

import torch
from torch import nn

from .nn import Log, Square  # noqa: F401 - re-exported: neurolrp.models.Square, .Log


def _samples(seconds, sfreq, minimum=1):
    return max(minimum, int(round(seconds * sfreq)))


def _check_common(name, n_channels, n_times, n_classes, sfreq):
    for arg, val in (("n_channels", n_channels), ("n_times", n_times), ("n_classes", n_classes)):
        if not isinstance(val, int) or val < 1:
            raise ValueError(f"{name}: {arg} must be a positive integer, got {val!r}.")
    if n_classes < 2:
        raise ValueError(f"{name}: n_classes must be at least 2, got {n_classes}.")
    if not sfreq or sfreq <= 0:
        raise ValueError(f"{name}: sfreq must be a positive number (Hz), got {sfreq!r}.")


def _too_short(name, n_times, sfreq, needed):
    raise ValueError(
        f"{name} needs at least {needed} samples ({needed / sfreq:.2f} s at {sfreq:g} Hz); "
        f"the data have {n_times} ({n_times / sfreq:.2f} s). Use a longer epoch window or "
        "another model."
    )


class ShallowNet(nn.Sequential):
    """ShallowConvNet (Schirrmeister et al. 2017), fully convolutional.

    Temporal convolution (``n_filters`` x 0.1 s), spatial convolution across
    all channels, batch norm, square, mean pooling (0.3 s windows every
    0.06 s), log, dropout: a learned filter-bank log-power model, the deep
    counterpart of CSP. As in the paper's cropped decoding, the classifier is
    a convolution over ``crop`` seconds of log-power that gives a prediction
    for every crop of the trial, and the trial's scores are the mean over
    crops (average pooling): the weights are shared across time, which is
    what lets it learn from a few dozen trials.

    Parameters
    ----------
    n_channels, n_times, n_classes : int
        Input channels, input samples, output classes.
    sfreq : float
        Sampling rate of the input in Hz.
    n_filters : int
        Temporal and spatial filters. The paper used 40; 16 is the default
        here because a subject of the bundled data has 45 trials (on its
        hands/feet imagery, 5-fold CV: 0.84 with 40 filters and 2 s crops,
        1.00 with 16 filters and 1 s crops; see ``benchmarks/accuracy.py``).
    crop : float
        Receptive field of one prediction in seconds (shortened to the
        trial if the trial is shorter); 1 s by default, 2 s in the paper.
    dropout : float
        Dropout probability before the classifier.

    Notes
    -----
    Size: ``n_filters * (0.1 * sfreq + 1 + n_filters * n_channels + 2)`` in
    the convolutions and batch norm plus ``n_filters * n_classes * k + n_classes``
    in the classifier, with ``k`` log-power samples per crop: 16,914 for 64
    channels, 2 classes at 80 Hz with the defaults.
    """

    def __init__(self, n_channels, n_times, n_classes, sfreq, n_filters=16, crop=1.0,
                 dropout=0.5):
        _check_common("ShallowNet", n_channels, n_times, n_classes, sfreq)
        k_time = _samples(0.1, sfreq, 2)
        pool = _samples(0.3, sfreq, 2)
        stride = _samples(0.06, sfreq)
        n_conv = n_times - k_time + 1
        if n_conv < pool:
            _too_short("ShallowNet", n_times, sfreq, k_time + pool - 1)
        n_pooled = (n_conv - pool) // stride + 1
        # log-power samples seen by one prediction
        k_cls = min(n_pooled, max(1, int(round((crop - 0.1 - 0.3) / 0.06)) + 1))
        super().__init__(
            nn.Unflatten(1, (1, n_channels)),
            nn.Conv2d(1, n_filters, (1, k_time)),
            nn.Conv2d(n_filters, n_filters, (n_channels, 1), bias=False),
            nn.BatchNorm2d(n_filters),
            Square(),
            nn.AvgPool2d((1, pool), stride=(1, stride)),
            Log(n_features=n_filters),
            nn.Dropout(dropout),
            nn.Conv2d(n_filters, n_classes, (1, k_cls)),
            nn.AvgPool2d((1, n_pooled - k_cls + 1)),
            nn.Flatten(),
        )

    @torch.no_grad()
    def center_log_power(self, x):
        """Measure log-power from the average trial, keeping every output.

        Sets the log layer's offset to the mean log-power of ``x`` (the
        training data) and moves it into the classifier's bias, so the
        network computes exactly the same function. Its log-power features
        then say "more or less power than usual" (ERS/ERD), which is the
        reference an explanation of them needs: relevance passes through the
        log unchanged, and without the offset it would be proportional to
        log-power in arbitrary units, i.e. mostly to the weights.
        """
        was_training = self.training
        self.eval()
        log_layer, classifier = self[6], self[8]
        h = x
        for layer in list(self)[:6]:
            h = layer(h)
        mu = torch.log(torch.clamp(h, min=log_layer.eps)).mean(dim=(0, 2, 3)).view(1, -1, 1, 1)
        classifier.bias += (classifier.weight * (mu - log_layer.offset)).sum(dim=(1, 2, 3))
        log_layer.offset.copy_(mu)
        self.train(was_training)


class EEGNet(nn.Sequential):
    """EEGNet-8,2 (Lawhern et al. 2018).

    Temporal convolution (8 filters of 0.5 s), batch norm, depthwise spatial
    convolution (2 per filter, max-norm 1), batch norm, ELU, average pooling
    by 4, dropout, separable convolution (depthwise 0.125 s then pointwise,
    16 filters), batch norm, ELU, average pooling by 8, dropout, linear
    classifier (max-norm 0.25). Kernel lengths follow the paper's values at
    128 Hz, scaled to ``sfreq``.

    Parameters
    ----------
    n_channels, n_times, n_classes : int
        Input channels, input samples, output classes.
    sfreq : float
        Sampling rate of the input in Hz.
    F1, D : int
        Temporal filters and spatial filters per temporal filter (8 and 2).
    dropout : float
        Dropout probability (0.5 within-subject in the paper).

    Notes
    -----
    Size: ``F1 * (0.5 * sfreq) + F1 * D * n_channels + F2 * (0.125 * sfreq)
    + F2**2 + F2 * n_times // 32 * n_classes`` weights plus batch norms, e.g.
    2,162 for 64 channels x 4.1 s at 80 Hz, 2 classes. The max-norm constraints are
    applied by :meth:`apply_constraints` after each optimiser step, so the
    layers keep plain weights that the explanation sees.
    """

    def __init__(self, n_channels, n_times, n_classes, sfreq, F1=8, D=2, dropout=0.5):
        _check_common("EEGNet", n_channels, n_times, n_classes, sfreq)
        F2 = F1 * D
        k1 = _samples(0.5, sfreq, 2)
        k2 = _samples(0.125, sfreq, 2)
        if n_times < 32:
            _too_short("EEGNet", n_times, sfreq, 32)
        super().__init__(
            nn.Unflatten(1, (1, n_channels)),
            nn.Conv2d(1, F1, (1, k1), padding=(0, k1 // 2), bias=False),
            nn.BatchNorm2d(F1),
            nn.Conv2d(F1, F2, (n_channels, 1), groups=F1, bias=False),
            nn.BatchNorm2d(F2),
            nn.ELU(),
            nn.AvgPool2d((1, 4)),
            nn.Dropout(dropout),
            nn.Conv2d(F2, F2, (1, k2), padding=(0, k2 // 2), groups=F2, bias=False),
            nn.Conv2d(F2, F2, 1, bias=False),
            nn.BatchNorm2d(F2),
            nn.ELU(),
            nn.AvgPool2d((1, 8)),
            nn.Dropout(dropout),
            nn.Flatten(),
        )
        with torch.no_grad():
            n_flat = self(torch.zeros(1, n_channels, n_times)).shape[1]
        self.append(nn.Linear(n_flat, n_classes))
        self.max_norms = {3: 1.0, 15: 0.25}

    @torch.no_grad()
    def apply_constraints(self):
        """Renormalise weights to the max-norm limits, in place."""
        for idx, limit in self.max_norms.items():
            w = self[idx].weight
            flat = w.view(w.shape[0], -1)
            norms = flat.norm(dim=1, keepdim=True).clamp(min=1e-12)
            flat.mul_(torch.clamp(limit / norms, max=1.0))


class SturmDNN(nn.Sequential):
    """A compact fully connected network on band-passed EEG (after Sturm et al. 2016).

    Dense layers only, with one structural choice that lets them learn from
    a few dozen trials: the first dense layer acts on the electrodes at
    every sample, with its weights shared over time (``n_filters`` spatial
    filters, then batch norm); its outputs are squared, averaged in windows
    of ``window`` seconds and log-transformed (log band power per filter and
    window); then a dense hidden layer with rectified linear units and
    dropout, and a dense read-out.

    Why not one dense layer on the flattened trial, as the name suggests: on
    64 channels x 4 s at 80 Hz that is 20,544 weights per hidden unit, to be
    learned from ~36 training trials. That design stayed at chance on every
    data set here (0.49 on S001 hands/feet, 0.50 on the simulator), while
    this one reaches CSP + LDA's accuracy (``benchmarks/accuracy.py``).

    Parameters
    ----------
    n_channels, n_times, n_classes : int
        Input channels, input samples, output classes.
    sfreq : float
        Sampling rate of the input in Hz.
    n_filters : int
        Spatial filters of the first layer.
    window : float
        Length in seconds of the windows in which power is averaged
        (shortened to the trial if the trial is shorter).
    hidden : int
        Units of the hidden layer; 0 gives a linear read-out of the log
        band power.
    dropout : float
        Dropout probability before the hidden layer and the read-out.

    Notes
    -----
    Size: ``n_filters * (n_channels + 2) + (n_filters * n_windows + 1) *
    hidden + (hidden + 1) * n_classes``: 1,090 for 64 channels x 4.1 s at
    80 Hz (4 windows), 2 classes. Trained by default with a learning rate of
    3e-3 and patience 100 (``TRAINING``, EEGClassifier's defaults for it):
    with the generic 1e-3 and 30 it stops before its spatial filters have
    formed (5-fold CV on S001 hands/feet: 0.73, against 0.84).
    """

    #: Training settings that suit this network (EEGClassifier's defaults).
    TRAINING = {"lr": 3e-3, "patience": 100, "max_epochs": 400}

    def __init__(self, n_channels, n_times, n_classes, sfreq, n_filters=8, window=1.0,
                 hidden=16, dropout=0.5):
        _check_common("SturmDNN", n_channels, n_times, n_classes, sfreq)
        w = min(n_times, _samples(window, sfreq))
        n_windows = n_times // w
        layers = [
            nn.Unflatten(1, (1, n_channels)),
            nn.Conv2d(1, n_filters, (n_channels, 1), bias=False),
            nn.BatchNorm2d(n_filters),
            Square(),
            nn.AvgPool2d((1, w)),
            Log(shape=(1, n_filters, 1, n_windows)),
            nn.Flatten(),
            nn.Dropout(dropout),
        ]
        n_in = n_filters * n_windows
        if hidden:
            layers += [nn.Linear(n_in, hidden), nn.ReLU(), nn.Dropout(dropout)]
            n_in = hidden
        layers.append(nn.Linear(n_in, n_classes))
        super().__init__(*layers)

    @torch.no_grad()
    def center_log_power(self, x):
        """Measure log band power from the training average, keeping every output.

        As :meth:`ShallowNet.center_log_power`, per filter and window: the
        offset moves into the bias of the first dense layer.
        """
        was_training = self.training
        self.eval()
        log_layer = self[5]
        dense = next(m for m in self if isinstance(m, nn.Linear))
        h = x
        for layer in list(self)[:5]:
            h = layer(h)
        mu = torch.log(torch.clamp(h, min=log_layer.eps)).mean(dim=0, keepdim=True)
        dense.bias += dense.weight @ (mu - log_layer.offset).flatten()
        log_layer.offset.copy_(mu)
        self.train(was_training)


MODELS = {"shallow": ShallowNet, "eegnet": EEGNet, "sturm": SturmDNN}


def make_model(name, n_channels, n_times, n_classes, sfreq, **params):
    """Build one of the shipped networks by name (see ``MODELS``)."""
    if name not in MODELS:
        raise ValueError(f"model must be one of {sorted(MODELS)}, got {name!r}.")
    return MODELS[name](n_channels, n_times, n_classes, sfreq, **params)


def n_parameters(model):
    """Number of trainable parameters."""
    return sum(math.prod(p.shape) for p in model.parameters() if p.requires_grad)

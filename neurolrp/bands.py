"""Relevance per frequency band: a virtual inspection layer in front of the network.

Each trial's network input ``x`` (after the classifier's scaling) is split
exactly into band components, ``x = sum_b x_b``, by masks that partition the
trial's discrete Fourier spectrum (every DFT bin belongs to exactly one band;
the bins that no requested band holds form a ``"residual"`` band). The
network is thought of as reading ``x`` through a first, virtual layer that
sums the components (Vielhaben et al. 2024, "virtual inspection layers"):
it changes nothing in the forward pass, and the relevance that reaches its
output is the ordinary broadband relevance ``R(c, t)`` of :func:`explain`.
Propagating ``R`` through that layer gives each band its share.

Why the computation needs no change to the engine: the virtual layer is the
first layer, so the backward pass reaches it last. Running the network with
the layer inside and running it without, then applying the layer's rule to
the input relevance, are the same computation; doing the latter keeps the
broadband relevance bit-identical to :func:`explain` and works for every
composite. (``tests/test_bands.py`` checks the equivalence: a wrapper
network whose fixed first layer sums the components, with the split bound
to that layer through ``Composite(by_name=...)``, gives the same band
relevance through the engine.)

The rule of the virtual layer
-----------------------------
LRP-0 (and DFT-LRP in Vielhaben et al. 2024, which propagates through the
inverse DFT as a linear layer) splits the relevance of a sum in proportion
to the terms: ``R_b = R * x_b / x``. (Propagating with LRP-0 through the
inverse DFT as a linear layer, as DFT-LRP does, and summing the relevance
of a band's bins gives the same thing: ``sum_{k in b} W_tk X_k = x_b(t)``.
So the choice is not between the two, only of the stabiliser.) For a first layer whose rule is linear
in its input (LRP-0/epsilon: ``R = x * g``) this is ``x_b * g``, the band's
contribution to the network's locally linear response, which is what one
wants. But band components are signed and cancel: where ``x(c, t)`` crosses
zero while two bands are large and opposite, ``x_b / x`` explodes (and the
z^B rule of the default composite gives relevance even at ``x = 0``). A
plain epsilon stabiliser ``x + eps`` tames that but loses relevance, so the
bands would no longer sum to the broadband map.

neurolrp uses a stabiliser that keeps the sum exact::

    R_b = R * (x_b * x + eps**2 * w_b) / (x**2 + eps**2),
    w_b = |x_b| / sum_b' |x_b'|,

with ``eps = epsilon * rms(x)`` per trial and channel. Since ``sum_b x_b =
x`` and ``sum_b w_b = 1``, ``sum_b R_b = R`` exactly. Where ``|x| >> eps``
it is the proportional (LRP-0 / DFT-LRP) split; where the bands cancel
(``|x| << eps``) the relevance is shared by the bands' amplitudes, with the
sign of ``R`` (no band receives a huge value of either sign); the factor
that multiplies ``R`` never exceeds ``|x_b| / (2 eps) + 1`` in magnitude.
Proportional splits of signed signals remain a choice: a band whose
component opposes the sample's value gets relevance of the opposite sign
(it pulled the input the other way), and the band maps can hold relevance of
both signs that cancels in the sum.

Which composite: the split is exact for every one, but the share of a band
means most when the input relevance is the signal times a (modified)
gradient (LRP-0/epsilon on the input layer, gradient x input): then a band's
relevance is its contribution to the network's locally linear response. On
the simulator (docs/bands.md, "How the bands compare") ``composite=
"epsilon"`` puts 0.52 of the relevance inside the truth in mu, the default
``"epsilon-pattern-box"`` only 0.28 (its z^B input rule gives relevance to
the box bounds, which are not signal).

Band components are defined on the epoch's own DFT (circular): a trend or a
step across the epoch leaks into every band, and the frequency resolution is
``sfreq / n_times``. Filter the epochs as usual before training if slow
drifts matter.

References
----------
Vielhaben J, Lapuschkin S, Montavon G, Samek W (2024). Explainable AI for
time series via virtual inspection layers. Pattern Recognition 150, 110309.
Bach S et al. (2015). On pixel-wise explanations for non-linear classifier
decisions by layer-wise relevance propagation. PLoS ONE 10(7): e0130140.
"""

import json
import numbers

import numpy as np
import xarray as xr

#: Name of the band holding the DFT bins that no requested band covers.
RESIDUAL = "residual"

#: Attribution methods whose input relevance is a contribution (it sums to
#: the explained output), so that splitting it over bands means something.
_CONTRIBUTION_METHODS = ("lrp", "gradient*input", "integrated-gradients")


def _check_bands(bands, sfreq, n_times):
    """Validated ``[(name, fmin, fmax, mask)]`` over ``rfftfreq(n_times, 1/sfreq)``.

    The residual band (the bins no band holds) is appended when not empty.
    Bands are half-open ``[fmin, fmax)``, except that a band ending at the
    Nyquist frequency holds the Nyquist bin, so that adjacent bands such as
    (8, 13) and (13, 30) share no bin.
    """
    if not isinstance(bands, dict) or not bands:
        raise TypeError(
            "bands must be a non-empty dict of name -> (fmin, fmax) in Hz, e.g. "
            f"{{'mu': (8, 13), 'beta': (13, 30)}}; got {bands!r}.")
    nyquist = sfreq / 2.0
    freqs = np.fft.rfftfreq(n_times, 1.0 / sfreq)
    out = []
    for name, edges in bands.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"Band names must be non-empty strings, got {name!r}.")
        if name == RESIDUAL:
            raise ValueError(f"The band name {RESIDUAL!r} is reserved for what the bands leave "
                             "out; choose another name.")
        try:
            fmin, fmax = edges
        except (TypeError, ValueError):
            raise TypeError(f"Band {name!r} must be a pair (fmin, fmax) in Hz, got "
                            f"{edges!r}.") from None
        for v in (fmin, fmax):
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not np.isfinite(v):
                raise TypeError(f"Band {name!r}: edges must be finite numbers in Hz, got "
                                f"{edges!r}.")
        fmin, fmax = float(fmin), float(fmax)
        if fmin < 0 or fmax <= fmin:
            raise ValueError(f"Band {name!r} = ({fmin:g}, {fmax:g}) Hz: need 0 <= fmin < fmax.")
        if fmax > nyquist:
            raise ValueError(
                f"Band {name!r} = ({fmin:g}, {fmax:g}) Hz reaches above the Nyquist frequency "
                f"({nyquist:g} Hz at {sfreq:g} Hz sampling); lower fmax to {nyquist:g} or less.")
        mask = (freqs >= fmin) & ((freqs < fmax) | ((fmax == nyquist) & (freqs == fmax)))
        if not mask.any():
            raise ValueError(
                f"Band {name!r} = ({fmin:g}, {fmax:g}) Hz holds no frequency of the epochs' "
                f"spectrum: with {n_times} samples at {sfreq:g} Hz the resolution is "
                f"{sfreq / n_times:g} Hz. Widen the band or use longer epochs.")
        out.append((name, fmin, fmax, mask))
    for i, (a, amin, amax, _) in enumerate(out):
        for b, bmin, bmax, _ in out[i + 1:]:
            if amin < bmax and bmin < amax:
                raise ValueError(
                    f"Bands {a!r} ({amin:g}-{amax:g} Hz) and {b!r} ({bmin:g}-{bmax:g} Hz) "
                    "overlap; the decomposition must give each frequency to one band. "
                    "Adjacent bands may share an edge, e.g. (8, 13) and (13, 30).")
    rest = ~np.any([m for *_, m in out], axis=0)
    if rest.any():
        out.append((RESIDUAL, np.nan, np.nan, rest))
    return out


def band_components(data, sfreq, bands):
    """Split signals exactly into frequency-band components.

    Parameters
    ----------
    data : array, shape (..., n_times)
        Signals, time last.
    sfreq : float
        Sampling rate in Hz.
    bands : dict
        Band name -> ``(fmin, fmax)`` in Hz; bands are half-open
        ``[fmin, fmax)`` and must not overlap. The frequencies no band holds
        form a last band named ``"residual"`` (left out when empty).

    Returns
    -------
    components : ndarray of float64, shape (..., n_bands, n_times)
        One component per band (band axis just before time), summing to
        ``data`` up to float64 rounding.
    names : list of str
        Band names, the residual last.

    Notes
    -----
    The components come from masks that partition the DFT bins of each
    signal (zero phase, no transition band): see :mod:`neurolrp.bands`.
    """
    data = np.asarray(data, dtype=np.float64)
    sfreq = float(sfreq)
    table = _check_bands(bands, sfreq, data.shape[-1])
    return _components(data, table), [name for name, *_ in table]


def _components(data, table):
    spec = np.fft.rfft(data, axis=-1)
    n = data.shape[-1]
    return np.stack([np.fft.irfft(spec * mask, n=n, axis=-1) for *_, mask in table], axis=-2)


def _split(R, comps, epsilon):
    """Relevance per band, shape (n, n_bands, ...), from R (n, C, T) and comps (n, C, B, T)."""
    comps = np.moveaxis(comps, -2, 1)  # (n, B, C, T)
    x = comps.sum(axis=1)  # the sum the virtual layer computes: conservation is exact on it
    eps2 = (epsilon**2) * np.mean(x**2, axis=-1, keepdims=True)  # (n, C, 1)
    eps2 = np.maximum(eps2, np.finfo(np.float64).tiny)  # a flat channel: no division by 0
    mag = np.abs(comps)
    total = mag.sum(axis=1, keepdims=True)
    w = np.where(total > 0, mag / np.where(total > 0, total, 1.0), 1.0 / comps.shape[1])
    return R[:, None] * (comps * x[:, None] + eps2[:, None] * w) / (x**2 + eps2)[:, None]


def explain_bands(model, data, bands, *, epsilon=0.1, sfreq=None, y=None, batch_size=32,
                  **kwargs):
    """Explain every trial per frequency band: relevance (trial, band, channel, time).

    The broadband relevance of :func:`neurolrp.explain` is propagated through
    a virtual inspection layer that sums the band components of the
    network's input (Vielhaben et al. 2024), so the bands' relevance sums to
    the broadband relevance exactly. The rule of that layer and why: see
    :mod:`neurolrp.bands`.

    Parameters
    ----------
    model : EEGClassifier | torch.nn.Module
        As in :func:`neurolrp.explain`.
    data : mne.Epochs | array, shape (n_trials, n_channels, n_times)
        As in :func:`neurolrp.explain`.
    bands : dict
        Band name -> ``(fmin, fmax)`` in Hz, e.g. ``{"mu": (8, 13), "beta":
        (13, 30)}``. Bands are half-open ``[fmin, fmax)`` (a band ending at
        the Nyquist frequency includes it) and must not overlap; what they
        leave out (slow drifts, DC offset, high frequencies) forms a last
        band ``"residual"``.
    epsilon : float
        Stabiliser of the split, relative to each trial's and channel's RMS
        input: where the band components cancel (``|x| < epsilon * rms``) the
        relevance is shared by their amplitudes instead of their signed
        ratios. 0 gives the pure proportional split (unstable near zero
        crossings).
    sfreq : float | None
        Sampling rate in Hz, needed only for a plain network explained on an
        array (epochs and a fitted classifier know theirs).
    y : array | None
        Labels, as in :func:`neurolrp.explain`.
    batch_size : int
        Trials per step (explanation and split).
    **kwargs
        Passed to :func:`neurolrp.explain` (``method``, ``composite``,
        ``target``, ``ignore_bias``, ``verbose``...). ``method`` must give a
        relevance that is a contribution: ``"lrp"`` (default),
        ``"gradient*input"`` or ``"integrated-gradients"``.

    Returns
    -------
    relevance : xarray.DataArray
        Dims ``("trial", "band", "channel", "time")``, float32, named
        ``relevance``, with every coordinate and attr of the broadband
        relevance plus ``band`` (names, ``"residual"`` last when not empty),
        ``fmin`` and ``fmax`` on ``band`` (Hz; NaN for the residual, which may
        be several intervals), and attrs ``bands`` (JSON name -> [fmin,
        fmax]), ``band_split`` (the rule), ``band_epsilon``,
        ``freq_resolution`` (Hz) and ``band_conservation_error`` (largest
        ``|sum_b R_b - R|`` over all samples, relative to the largest
        ``|R|``). ``rel.sum("band")`` is the broadband relevance.

    Raises
    ------
    ValueError
        Overlapping bands, a band above the Nyquist frequency or holding no
        frequency of the epochs' spectrum, a method whose relevance is no
        contribution, a missing or contradictory ``sfreq``, and everything
        :func:`neurolrp.explain` refuses; all before any work.
    TypeError
        ``bands`` not a dict of name -> (fmin, fmax).

    Notes
    -----
    Memory: the band components of one batch are held in float64, ``8 *
    batch_size * n_bands * n_channels * n_times`` bytes.

    Examples
    --------
    >>> rel = neurolrp.explain_bands(clf, epochs, {"mu": (8, 13), "beta": (13, 30)})
    >>> rel.sel(band="mu").mean("trial")  # the mu band's class-average map
    """
    import torch
    from sklearn.utils.validation import check_is_fitted

    from ._checks import check_int, check_number
    from ._trials import read_trials
    from .attribution import explain
    from .classifier import EEGClassifier

    method = kwargs.get("method", "lrp")
    if method not in _CONTRIBUTION_METHODS:
        raise ValueError(
            f"explain_bands splits a relevance that sums to the explained output; method "
            f"{method!r} does not give one. Use one of {_CONTRIBUTION_METHODS}.")
    epsilon = check_number(epsilon, "epsilon", low=0.0)
    batch_size = check_int(batch_size, "batch_size", low=1)
    sfreq = check_number(sfreq, "sfreq", low=0.0, low_open=True, none_ok=True)
    # what the network reads and at which rate, through explain's own reading of the data
    # (explain then refuses anything else about them, still before any work)
    fitted = model if isinstance(model, EEGClassifier) else None
    if fitted is not None:
        check_is_fitted(fitted)
    elif not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a fitted neurolrp.EEGClassifier or a torch.nn.Module, "
                        f"got {type(model).__name__}.")
    scale = fitted.scale if fitted is not None else None
    model_sfreq = fitted.sfreq_ if fitted is not None else None
    trials = read_trials(data, y, est=fitted, what="data", epochs_what="data", cast=False)
    X, data_sfreq = trials.data, trials.sfreq
    known = [s for s in (model_sfreq, data_sfreq) if s]
    if sfreq is not None and known and not np.isclose(sfreq, known[0]):
        raise ValueError(f"sfreq={sfreq:g} Hz contradicts the {known[0]:g} Hz of the "
                         f"{'classifier' if model_sfreq else 'epochs'}; leave sfreq out.")
    sfreq = sfreq if sfreq is not None else (known[0] if known else None)
    if sfreq is None:
        raise ValueError("A plain network explained on an array needs sfreq= (Hz) to know "
                         "which frequencies the bands hold.")
    table = _check_bands(bands, float(sfreq), X.shape[2])  # before any work

    rel = explain(model, data, y=y, batch_size=batch_size, **kwargs)
    names = [name for name, *_ in table]
    out = np.empty((X.shape[0], len(table)) + X.shape[1:], dtype=np.float32)
    R_all = rel.values
    for start in range(0, len(X), batch_size):
        sl = slice(start, start + batch_size)
        x = scale(X[sl]) if scale is not None else X[sl]  # what the network reads
        comps = _components(np.asarray(x, dtype=np.float64), table)
        out[sl] = _split(R_all[sl].astype(np.float64), comps, epsilon)

    ref = np.abs(R_all).max()
    err = float(np.abs(out.sum(axis=1, dtype=np.float64) - R_all).max() / ref) if ref > 0 \
        else 0.0
    coords = {k: v for k, v in rel.coords.items()}
    coords["band"] = np.asarray(names, dtype=object)
    coords["fmin"] = ("band", np.array([t[1] for t in table], dtype=np.float64))
    coords["fmax"] = ("band", np.array([t[2] for t in table], dtype=np.float64))
    attrs = dict(rel.attrs)
    if not np.isfinite(float(attrs.get("sfreq", np.nan))):
        # a plain network on an array: explain numbered the samples; sfreq= times them
        attrs["sfreq"] = float(sfreq)
        coords["time"] = np.arange(X.shape[2]) / float(sfreq)
    attrs.update({
        "bands": json.dumps({t[0]: [t[1], t[2]] for t in table if t[0] != RESIDUAL}),
        "band_split": "virtual inspection layer (Vielhaben et al. 2024): R_b = R * (x_b x + "
                      "eps^2 w_b) / (x^2 + eps^2), w_b = |x_b| / sum |x_b|, eps = "
                      "band_epsilon * rms(x) per trial and channel; DFT-bin masks",
        "band_epsilon": float(epsilon),
        "freq_resolution": float(sfreq) / X.shape[2],
        "band_conservation_error": err,
    })
    return xr.DataArray(out, dims=("trial", "band", "channel", "time"), coords=coords,
                        name="relevance", attrs=attrs)


def band_share(rel, region=None, sum_over="time"):
    """Share of each band in the relevance, per trial.

    Parameters
    ----------
    rel : xarray.DataArray
        From :func:`explain_bands`.
    region : xarray.DataArray | None
        Boolean mask on ``"channel"`` and/or ``"time"`` (e.g. a class's row
        of the simulator's truth); only the samples where it is True count.
    sum_over : str | tuple of str | None
        Dims over which the signed relevance is summed (inside the region)
        before its magnitude is taken. The default ``"time"`` measures what
        each band contributed per channel: a band component oscillates, so
        its per-sample relevance changes sign with the signal, while its
        sum over time is the band's part of the network's response
        (Parseval: the sum over time of ``x_b * g`` is the sum over the
        band's frequencies of ``X * conj(G)``). ``None``: per-sample
        ``|R_b|``, which largely follows the bands' amplitudes.

    Returns
    -------
    share : xarray.DataArray, dims ("trial", "band")
        ``sum |R_b| / sum_b' sum |R_b'|``; each trial's shares sum to 1.

    Raises
    ------
    ValueError
        ``rel`` has no band dim, or ``region`` does not fit it or selects
        nothing.
    """
    if not isinstance(rel, xr.DataArray) or "band" not in rel.dims:
        raise ValueError("band_share needs the relevance of explain_bands (a 'band' dim).")
    over = () if sum_over is None else (sum_over,) if isinstance(sum_over, str) else \
        tuple(sum_over)
    if not set(over) <= {"channel", "time"}:
        raise ValueError(f"sum_over must name 'channel' and/or 'time', got {sum_over!r}.")
    if region is not None:
        if not isinstance(region, xr.DataArray) or not set(region.dims) <= {"channel", "time"}:
            raise ValueError("region must be a boolean DataArray on 'channel' and/or 'time'.")
        if "channel" in region.dims:
            missing = sorted(set(map(str, rel.channel.values))
                             - set(map(str, region.channel.values)))
            if missing:
                raise ValueError(f"region lacks the channel(s) {missing[:10]}.")
            region = region.sel(channel=rel.channel.values)
        if "time" in region.dims:
            # the truth's times and the relevance's may differ in the last bits
            if region.sizes["time"] != rel.sizes["time"] or not np.allclose(
                    region.time.values, rel.time.values, atol=1e-6):
                raise ValueError("region's times differ from the relevance's.")
            region = region.assign_coords(time=rel.time.values)
        if not bool(region.any()):
            raise ValueError("region selects no sample.")
        rel = rel.where(region.astype(bool), 0.0)
    mag = np.abs(rel.sum(over) if over else rel)
    per_band = mag.sum([d for d in ("channel", "time") if d in mag.dims])
    return per_band / per_band.sum("band")

"""Statistics on relevance: cluster-based permutation tests over channel x time.

Which channel x time regions carry relevance reliably across trials, and
where do two groups of trials (two classes; correct and misclassified
trials) differ beyond chance? Both questions are answered with MNE's
cluster-based permutation tests (Maris and Oostenveld 2007), run on the
relevance DataArray itself:

- :func:`one_sample_test`: is the mean relevance different from zero?
  (per group of trials, e.g. per explained class; sign-flip permutations,
  :func:`mne.stats.spatio_temporal_cluster_1samp_test`).
- :func:`two_sample_test`: does the relevance of two groups of trials differ?
  (label permutations, :func:`mne.stats.spatio_temporal_cluster_test` with an
  independent-samples t statistic).

Sensor adjacency comes from the channel positions the relevance carries
(:func:`channel_adjacency`), so a relevance file saved to disk can be tested
without the recording. Points whose t-value passes the cluster-forming
threshold are grouped into clusters of neighbouring channels and adjacent
time samples; each cluster's mass (sum of t) is compared with the largest
mass found in each permutation, which controls the family-wise error over
all channels and times. A significant cluster says that the relevance (or
the difference) is not zero somewhere in it; its exact extent is not itself
tested (Sassenhagen and Draschkow 2019).

Results are ``xarray.Dataset`` objects with the channel and time
coordinates of the relevance (channel positions included) so that
:mod:`neurolrp.viz` can overlay them: significant sensors on topomaps,
cluster contours on channel x time maps. Everything is seeded: the same call
gives the same p-values.

Measured false-positive rate (``benchmarks/stats_false_positives.py``): on
pure Laplace noise (20 trials, or 20 + 20 for the two-sample test, x 64
channels x 101 times, 1000 permutations, alpha 0.05, 100 seeds) a
significant cluster appeared in 4 of
100 seeds for the one-sample test and in 4 of 100 for the two-sample test,
as expected for tests that hold the family-wise error at 5 %. (MNE's
two-sample test run directly with ``tail=0`` and a t statistic gave 12 of
100; see :func:`two_sample_test`.)
"""

import contextlib
import math
import warnings

import numpy as np
import xarray as xr

from ._utils import logger, verbose
from .relevance import POS_COORDS, split_trials, to_info, validate_relevance

#: Edges of the Delaunay triangulation longer than this many times the median
#: edge are dropped (they join channels across the rim of the layout, e.g.
#: T9 and AF7 on the 10-10 layout).
MAX_EDGE_FACTOR = 1.8



@verbose
def channel_adjacency(rel, *, max_distance="auto", verbose=None):
    """Which channels are neighbours, from the positions the relevance carries.

    Neighbours are the edges of a Delaunay triangulation of the channels'
    positions projected on a plane (:func:`mne.channels.find_ch_adjacency`
    on an Info rebuilt with :func:`neurolrp.relevance.to_info`), minus edges
    longer than ``max_distance``, which otherwise join channels across the
    rim of the layout (T9 and AF7 on the 10-10 layout, 9.8 cm apart).

    Parameters
    ----------
    rel : xarray.DataArray | xarray.Dataset
        Anything with a ``channel`` dimension and the position coordinates
        ``ch_x``, ``ch_y``, ``ch_z`` (metres) on it.
    max_distance : "auto" | float | None
        Longest edge kept, in metres. ``"auto"``: 1.8 times the median edge
        of the triangulation (6.9 cm for the 64-channel 10-10 layout). None
        keeps every edge. A channel whose edges would all be dropped keeps
        its shortest.
    %(verbose)s
        Also MNE's log level while it finds the neighbours (``None``:
        ``"warning"``).

    Returns
    -------
    adjacency : scipy.sparse.csr_array, shape (n_channels, n_channels)
        True where two channels are neighbours (the diagonal included), in
        the order of ``rel.channel``.

    Raises
    ------
    ValueError
        A channel has no position (relevance computed from a plain array), or
        fewer than three channels.
    """
    import mne
    from scipy import sparse

    if rel.sizes.get("channel", 0) < 3:
        raise ValueError(f"Sensor adjacency needs at least 3 channels, got "
                         f"{rel.sizes.get('channel', 0)}.")
    if isinstance(rel, xr.Dataset):
        rel = xr.DataArray(np.zeros((rel.sizes["channel"], 1)), dims=("channel", "time"),
                           coords={c: rel[c] for c in ("channel", *POS_COORDS)},
                           attrs={"sfreq": 1.0})
    info = to_info(rel)  # raises with the channels that lack positions
    with mne.utils.use_log_level(verbose if verbose is not None else "WARNING"):
        adj, names = mne.channels.find_ch_adjacency(info, "eeg")
    adj = sparse.csr_array(adj, dtype=bool)
    pos = np.column_stack([rel[c].values for c in POS_COORDS])
    if max_distance is not None:
        coo = adj.tocoo()
        off = coo.row != coo.col
        dist = np.linalg.norm(pos[coo.row] - pos[coo.col], axis=1)
        limit = (MAX_EDGE_FACTOR * float(np.median(dist[off])) if max_distance == "auto"
                 else float(max_distance))
        keep = ~off | (dist <= limit)
        for ch in range(len(pos)):  # never isolate a channel
            mine = off & (coo.row == ch)
            if mine.any() and not (keep & mine).any():
                nearest = np.flatnonzero(mine)[np.argmin(dist[mine])]
                partner = coo.col[nearest]
                keep[nearest] = True
                keep[off & (coo.row == partner) & (coo.col == ch)] = True
        adj = sparse.csr_array((np.ones(keep.sum(), bool), (coo.row[keep], coo.col[keep])),
                               shape=adj.shape)
    adj = adj + sparse.eye_array(adj.shape[0], dtype=bool, format="csr")
    return adj.astype(bool)


@verbose
def one_sample_test(rel, *, by="target", groups=None, n_permutations=1024, threshold=None,
                    tail=0, alpha=0.05, tmin=None, tmax=None, bin_width=None,
                    adjacency=None, seed=0, n_jobs=None, verbose=None):
    """Cluster-based permutation test: is the mean relevance different from zero?

    For each group of trials (by default each explained class), a one-sample
    t-test at every channel and time, clustered over neighbouring channels
    and adjacent times, with the cluster masses compared against sign-flip
    permutations (:func:`mne.stats.spatio_temporal_cluster_1samp_test`).

    Parameters
    ----------
    rel : xarray.DataArray
        Relevance (``trial`` x ``channel`` x ``time``) with channel positions.
    by : str | None
        Trial coordinate whose values define the groups tested separately:
        ``"target"`` (default: relevance for one class is evidence for that
        class; pooling relevance for different classes mixes meanings),
        ``"y_true"``, ``"y_pred"``, ``"correct"``. None tests all trials of
        ``rel`` as one group (select them first, e.g.
        ``rel.sel(trial=rel.y_true == "feet")``).
    groups : list | None
        Values of ``by`` to test; default every value present.
    n_permutations : int
        Number of sign-flip permutations (an exact test is run when there are
        fewer possible flips than this).
    threshold : float | None
        Cluster-forming threshold on the t statistic. None: the t-value of
        p = 0.05 for the number of trials (two-sided when ``tail == 0``).
    tail : -1 | 0 | 1
        0: clusters of either sign; 1: positive relevance only; -1:
        negative only.
    alpha : float
        Clusters with a p-value below ``alpha`` are significant (``mask``).
    tmin, tmax : float | None
        Time span tested, in seconds; default the whole epoch.
    bin_width : float | None
        Average relevance in consecutive time bins of this many seconds
        before testing (fewer, less noisy tests; faster). None: every sample.
    adjacency : scipy.sparse array | None
        Channel adjacency; default :func:`channel_adjacency` of ``rel``.
    seed : int | None
        Seed of the permutations: the same seed gives the same p-values.
    n_jobs : int | None
        Jobs for MNE's permutations (None: one).
    %(verbose)s

    Returns
    -------
    result : xarray.Dataset
        Dims ``channel`` and ``time`` (the relevance's coordinates, channel
        positions included, times binned if ``bin_width``), ``cluster``
        (1 = the most significant), and ``group`` when ``by`` is not None.
        Variables: ``t`` (t-values), ``effect`` (mean relevance),
        ``cluster_id`` (0 outside clusters), ``cluster_p`` (each point's
        cluster p-value, NaN outside clusters), ``mask`` (True inside
        clusters with p < alpha); per cluster ``p_value``, ``mass`` (sum of
        t), ``sign`` and ``n_points``; ``n_trials``. ``attrs`` record the
        test, ``n_permutations`` (asked and done), ``seed``, ``threshold``,
        ``tail``, ``alpha``, ``by``, and the relevance's method.

    Raises
    ------
    ValueError
        Too few trials for a p-value below ``alpha``, an empty or unknown
        group, a missing coordinate, missing channel positions, a bad
        ``tail``, ``n_permutations`` too small for ``alpha``, or a time span
        without samples.

    See Also
    --------
    two_sample_test, neurolrp.viz.plot_cluster_test
    """
    import mne

    _check_common(rel, tail, alpha, n_permutations)
    rel, adjacency = _prepare(rel, tmin, tmax, bin_width, adjacency, verbose)
    parts = []
    for label, sel in split_trials(rel, by, groups):
        n = sel.sizes["trial"]
        _check_attainable(n, 2 ** n, n_permutations, alpha, tail, one_sample=True,
                          what=f"group {label!r}" if label is not None else "the selection")
        if by is None and "target" in sel.coords and len(set(sel.target.values)) > 1:
            logger.warning("Testing relevance for different targets together "
                           f"({sorted(set(map(str, sel.target.values)))}); pass "
                           "by='target' to test each on its own.")
        X = _as_mne(sel)
        thr = _t_threshold(threshold, n - 1, tail)
        logger.info(f"One-sample cluster test{_label(label)}: {n} trials, "
                    f"{X.shape[2]} channels x {X.shape[1]} times, threshold t={thr:.3g}")
        with _no_cluster_warning():
            t_obs, clusters, pvals, h0 = mne.stats.spatio_temporal_cluster_1samp_test(
                X, threshold=thr, n_permutations=n_permutations, tail=tail,
                stat_fun=_ttest_1samp, adjacency=adjacency, n_jobs=n_jobs,
                out_type="mask", rng=seed, verbose=verbose)
        ds = _result(sel, t_obs, clusters, pvals, alpha, effect=sel.mean("trial"))
        ds["n_trials"] = n
        ds.attrs.update(threshold=float(thr), n_permutations_done=len(h0))
        parts.append((label, ds))
    out = _combine(parts, by)
    out.attrs.update(_attrs(rel, "one-sample", n_permutations, seed, tail, alpha, by,
                            bin_width, tmin, tmax))
    out.attrs["test"] = ("one-sample cluster permutation t-test (relevance != 0), "
                         "mne.stats.spatio_temporal_cluster_1samp_test")
    return out


@verbose
def two_sample_test(rel, *, by="target", groups=None, n_permutations=1024, threshold=None,
                    tail=0, alpha=0.05, tmin=None, tmax=None, bin_width=None, adjacency=None,
                    seed=0, n_jobs=None, verbose=None):
    """Cluster-based permutation test: does relevance differ between two groups?

    An independent-samples t-test (group a minus group b) at every channel
    and time, clustered over neighbouring channels and adjacent times, with
    the cluster masses compared against permutations of the trials' group
    labels (:func:`mne.stats.spatio_temporal_cluster_test`).

    Parameters
    ----------
    rel : xarray.DataArray
        Relevance (``trial`` x ``channel`` x ``time``) with channel positions.
    by : str
        Trial coordinate that names each trial's group: ``"target"``
        (default; relevance for class a vs for class b), ``"y_true"``,
        ``"y_pred"``, or ``"correct"`` (correct vs misclassified trials; with
        one explained class, e.g. ``rel.sel(trial=rel.target == "feet")``,
        this asks what differs when the network says "feet" wrongly).
    groups : (a, b) | None
        The two values of ``by`` to compare; the t-values are a minus b.
        Default: the two values present (for ``"correct"``: correct minus
        misclassified; ``"correct"`` and ``"misclassified"`` may name them).
    n_permutations : int
        Number of label permutations (an exact test is run when there are
        fewer possible ones).
    threshold : float | None
        Cluster-forming threshold on t. None: the t-value of p = 0.05 with
        ``n_a + n_b - 2`` degrees of freedom (two-sided when ``tail == 0``).
    tail : -1 | 0 | 1
        0: either direction; 1: a > b only; -1: a < b only. Each direction
        is an upper-tail test of its own (a - b, or b - a); with 0 both are
        run and their p-values doubled (Bonferroni, as FieldTrip's
        ``correcttail="prob"``), because MNE's multi-sample test keeps the
        largest signed cluster of each permutation, which is right for F
        but not for a two-sided t (mne-python issue #10675): used directly
        it gave 12 false positives in 100 noise seeds, this 4.
    alpha, tmin, tmax, bin_width, adjacency, seed, n_jobs
        As in :func:`one_sample_test`.
    %(verbose)s

    Returns
    -------
    result : xarray.Dataset
        As :func:`one_sample_test` without a ``group`` dimension; ``effect``
        is the difference of the groups' mean relevance (a - b), ``n_a`` and
        ``n_b`` count their trials, ``attrs["group_a"]`` and
        ``attrs["group_b"]`` name them.

    Raises
    ------
    ValueError
        ``by`` missing, not exactly two groups, a group empty or with fewer
        than two trials, too few trials for a p-value below ``alpha``,
        missing channel positions, a bad ``tail``, or an empty time span.

    See Also
    --------
    one_sample_test, neurolrp.viz.plot_cluster_test
    """
    import mne

    _check_common(rel, tail, alpha, n_permutations)
    if by is None:
        raise ValueError("two_sample_test needs by= (a trial coordinate naming the groups).")
    rel, adjacency = _prepare(rel, tmin, tmax, bin_width, adjacency, verbose)
    split = split_trials(rel, by, groups)
    if groups is None and len(split) != 2:
        raise ValueError(f"by={by!r} has {len(split)} value(s) "
                         f"({[lab for lab, _ in split]}); pass groups=(a, b) to pick two.")
    if len(split) != 2:
        raise ValueError(f"groups must name exactly two values of {by!r}, got {groups!r}.")
    (la, a), (lb, b) = split
    for lab, g in ((la, a), (lb, b)):
        if g.sizes["trial"] < 2:
            raise ValueError(
                f"Group {lab!r} ({by}) has {g.sizes['trial']} trial(s); a two-sample test "
                "needs at least two per group (three or more for a useful test).")
    na, nb = a.sizes["trial"], b.sizes["trial"]
    _check_attainable(na + nb, math.comb(na + nb, na), n_permutations, alpha, tail,
                      one_sample=False, what=f"groups {la!r} ({na}) and {lb!r} ({nb})")
    thr = abs(_t_threshold(threshold, na + nb - 2, tail))
    Xa, Xb = _as_mne(a), _as_mne(b)
    logger.info(f"Two-sample cluster test {la!r} ({na}) vs {lb!r} ({nb}): "
                f"{Xa.shape[2]} channels x {Xa.shape[1]} times, threshold t={thr:.3g}")
    # MNE's multi-sample test keeps the largest *signed* cluster mass of each
    # permutation (made for F-tests), so its tail=0 and tail=-1 p-values are wrong
    # for a t statistic (mne-python issue #10675; 12 % false positives in 100 noise
    # seeds here). Each direction is therefore an upper-tail test of its own
    # (a - b, then b - a), and with tail=0 both p-values are doubled (Bonferroni),
    # as FieldTrip's correcttail='prob'.
    t_obs, clusters, pvals, n_done = None, [], [], 0
    for direction in ((1, -1) if tail == 0 else (tail,)):
        stat = _ttest_ind if direction == 1 else _ttest_ind_reversed
        with _no_cluster_warning():
            t_dir, cl, pv, h0 = mne.stats.spatio_temporal_cluster_test(
                [Xa, Xb], threshold=thr, n_permutations=n_permutations, tail=1,
                stat_fun=stat, adjacency=adjacency, n_jobs=n_jobs, out_type="mask",
                rng=seed, verbose=verbose)
        if t_obs is None:
            t_obs = t_dir * direction
        clusters += list(cl)
        pvals += list(np.minimum(1.0, np.asarray(pv) * (2 if tail == 0 else 1)))
        n_done = max(n_done, len(h0))
    out = _result(rel, t_obs, clusters, pvals, alpha,
                  effect=a.mean("trial") - b.mean("trial"))
    out["n_a"], out["n_b"] = na, nb
    out.attrs.update(_attrs(rel, "two-sample", n_permutations, seed, tail, alpha, by,
                            bin_width, tmin, tmax))
    out.attrs.update(threshold=float(thr if tail >= 0 else -thr), n_permutations_done=n_done,
                     group_a=la,
                     group_b=lb,
                     test=("two-sample cluster permutation t-test (relevance of "
                           f"{la} - {lb}), mne.stats.spatio_temporal_cluster_test"))
    return out


def significant_sensors(result, tmin=None, tmax=None):
    """Channels inside a significant cluster at any time within a span.

    Parameters
    ----------
    result : xarray.Dataset
        From :func:`one_sample_test` (one group: ``result.sel(group=...)``)
        or :func:`two_sample_test`.
    tmin, tmax : float | None
        Time span in seconds; default all times tested.

    Returns
    -------
    mask : xarray.DataArray of bool, dims ``("channel",)``
        With the result's channel coordinates and positions.
    """
    mask = select_group(result)["mask"]
    t = mask.time.values
    sel = np.ones(len(t), bool)
    if tmin is not None:
        sel &= t >= tmin
    if tmax is not None:
        sel &= t <= tmax
    return mask.isel(time=sel).any("time")


def summary_table(result):
    """The significant clusters as a table, one row per cluster.

    Parameters
    ----------
    result : xarray.Dataset
        From :func:`one_sample_test` or :func:`two_sample_test`.

    Returns
    -------
    table : pandas.DataFrame
        Columns ``group`` (when tested per group), ``cluster``, ``p_value``,
        ``sign`` (+1: positive t), ``mass``, ``tmin``, ``tmax``,
        ``n_channels`` and ``channels`` (names, comma-separated), for the
        clusters with p below the test's alpha, most significant first.
    """
    import pandas as pd

    rows = []
    groups = result.group.values if "group" in result.dims else [None]
    alpha = result.attrs.get("alpha", 0.05)
    for g in groups:
        r = result if g is None else result.sel(group=g)
        for c in r.cluster.values:
            p = float(r.p_value.sel(cluster=c))
            if not p < alpha:
                continue
            inside = r.cluster_id == c
            chans = r.channel.values[inside.any("time").values]
            times = r.time.values[inside.any("channel").values]
            row = {} if g is None else {"group": str(g)}
            row.update(cluster=int(c), p_value=p, sign=int(r.sign.sel(cluster=c)),
                       mass=float(r.mass.sel(cluster=c)), tmin=float(times.min()),
                       tmax=float(times.max()), n_channels=len(chans),
                       channels=", ".join(map(str, chans)))
            rows.append(row)
    cols = (["group"] if "group" in result.dims else []) + [
        "cluster", "p_value", "sign", "mass", "tmin", "tmax", "n_channels", "channels"]
    return pd.DataFrame(rows, columns=cols)


# ---------------------------------------------------------------- helpers


@contextlib.contextmanager
def _no_cluster_warning():
    """Silence MNE's warning when nothing passes the threshold (a valid outcome here)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="No clusters found", category=RuntimeWarning)
        yield


def _ttest_1samp(X):
    from mne.stats import ttest_1samp_no_p

    with np.errstate(divide="ignore", invalid="ignore"):
        t = ttest_1samp_no_p(X)
    return np.nan_to_num(t, nan=0.0, posinf=0.0, neginf=0.0)  # constant points: no evidence


def _ttest_ind(a, b):
    from mne.stats import ttest_ind_no_p

    with np.errstate(divide="ignore", invalid="ignore"):
        t = ttest_ind_no_p(a, b)
    return np.nan_to_num(t, nan=0.0, posinf=0.0, neginf=0.0)


def _ttest_ind_reversed(a, b):
    return _ttest_ind(b, a)


def _check_common(rel, tail, alpha, n_permutations):
    validate_relevance(rel)
    if tail not in (-1, 0, 1):
        raise ValueError(f"tail must be -1, 0 or 1, got {tail!r}.")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie between 0 and 1, got {alpha!r}.")
    if int(n_permutations) != n_permutations or n_permutations < 1:
        raise ValueError(f"n_permutations must be a positive integer, got {n_permutations!r}.")
    if 1.0 / n_permutations > alpha:
        raise ValueError(f"n_permutations={n_permutations} cannot give a p-value below "
                         f"alpha={alpha}; use at least {math.ceil(1 / alpha)} (1000 or more "
                         "for stable p-values).")


def _check_attainable(n, n_possible, n_permutations, alpha, tail, *, one_sample, what):
    """Raise when no permutation test on these trials can reach p < alpha."""
    if n < (2 if not one_sample else 3):
        raise ValueError(f"{what} has {n} trial(s); a one-sample test needs at least 3 "
                         "(and about 6 for p < 0.05).")
    if one_sample:
        # flipping every sign gives the same |t|: two-sided, half the flips are distinct
        smallest = 1.0 / min(n_possible // 2 if tail == 0 else n_possible, n_permutations)
    else:  # two one-sided tests, each p doubled when tail == 0
        smallest = (2.0 if tail == 0 else 1.0) / min(n_possible, n_permutations)
    if smallest > alpha:
        raise ValueError(
            f"Too few trials: with {what}, the smallest p-value a permutation test can give "
            f"is {smallest:.3g}, above alpha={alpha}. Use more trials"
            + (" (at least 6 for alpha 0.05)." if one_sample else "."))


def _t_threshold(threshold, df, tail):
    from scipy import stats

    if threshold is not None:
        threshold = float(threshold)
        if tail == -1 and threshold > 0:
            threshold = -threshold  # MNE's convention for the lower tail
        return threshold
    p = 0.05 / 2 if tail == 0 else 0.05
    thr = float(stats.t.ppf(1 - p, df))
    return -thr if tail == -1 else thr


def _prepare(rel, tmin, tmax, bin_width, adjacency, verbose):
    """Crop and bin the relevance; build the adjacency."""
    t = rel.time.values
    sel = np.ones(len(t), bool)
    if tmin is not None:
        sel &= t >= tmin - 1e-9
    if tmax is not None:
        sel &= t <= tmax + 1e-9
    if not sel.any():
        raise ValueError(f"No time samples between tmin={tmin} and tmax={tmax}; the relevance "
                         f"spans {t[0]:g} to {t[-1]:g} s.")
    rel = rel.isel(time=sel)
    if bin_width is not None:
        sfreq = float(rel.attrs.get("sfreq", np.nan))
        if not np.isfinite(sfreq) and rel.sizes["time"] > 1:
            sfreq = 1.0 / float(np.diff(rel.time.values[:2])[0])
        step = int(round(bin_width * sfreq))
        if step < 1 or step > rel.sizes["time"]:
            raise ValueError(f"bin_width={bin_width} s must hold between 1 and "
                             f"{rel.sizes['time']} samples at {sfreq:g} Hz.")
        n_bins = rel.sizes["time"] // step
        dropped = rel.sizes["time"] - n_bins * step
        if dropped:
            logger.info(f"Binning: the last {dropped} sample(s) do not fill a bin and are "
                        "left out.")
        rel = rel.isel(time=slice(0, n_bins * step))
        attrs = rel.attrs
        rel = rel.coarsen(time=step).mean().astype(np.float32)  # time: bin centres
        rel.attrs = dict(attrs, sfreq=sfreq / step)
    if adjacency is None:
        adjacency = channel_adjacency(rel, verbose=verbose)
    elif adjacency.shape != (rel.sizes["channel"],) * 2:
        raise ValueError(f"adjacency has shape {adjacency.shape}; the relevance has "
                         f"{rel.sizes['channel']} channels.")
    return rel, adjacency


def _label(label):
    return "" if label is None else f" for {label!r}"


def _as_mne(rel):
    """(trial, channel, time) -> MNE's (observations, times, space), float64."""
    return np.ascontiguousarray(rel.values.transpose(0, 2, 1), dtype=np.float64)


def _result(rel, t_obs, clusters, pvals, alpha, effect):
    """Pack MNE's output into a Dataset on the relevance's coordinates."""
    coords = {c: rel[c] for c in ("channel", "time", *POS_COORDS)}
    t_map = np.asarray(t_obs).T  # (channel, time)
    masks = [np.asarray(c).T for c in clusters]
    pvals = np.asarray(pvals, dtype=np.float64)
    mass = np.array([t_map[m].sum() for m in masks])
    order = np.lexsort((-np.abs(mass), pvals)) if len(masks) else np.array([], int)
    cid = np.zeros(t_map.shape, np.int32)
    cp = np.full(t_map.shape, np.nan)
    for k, i in enumerate(order, start=1):
        cid[masks[i]] = k
        cp[masks[i]] = pvals[i]
    dims = ("channel", "time")
    ds = xr.Dataset(
        {
            "t": (dims, t_map.astype(np.float32)),
            "effect": effect.astype(np.float32).drop_vars(
                [c for c in effect.coords if c not in coords]).variable,
            "cluster_id": (dims, cid),
            "cluster_p": (dims, cp),
            "mask": (dims, np.nan_to_num(cp, nan=1.0) < alpha),
            "p_value": ("cluster", pvals[order]),
            "mass": ("cluster", mass[order]),
            "sign": ("cluster", np.sign(mass[order]).astype(np.int8)),
            "n_points": ("cluster", np.array([masks[i].sum() for i in order], np.int64)),
        },
        coords={**coords, "cluster": np.arange(1, len(order) + 1)},
    )
    ds["t"].attrs["long_name"] = "t-value"
    ds["effect"].attrs["units"] = "relevance"
    return ds


def _combine(parts, by):
    if by is None:
        ((_, ds),) = parts
        return ds
    labels = [lab for lab, _ in parts]
    attrs = {k: [d.attrs[k] for _, d in parts] for k in ("threshold", "n_permutations_done")}
    out = xr.concat([d for _, d in parts], dim="group", join="outer",
                    fill_value={"p_value": np.nan, "mass": np.nan, "sign": 0, "n_points": 0},
                    combine_attrs="drop", data_vars="all", coords="minimal", compat="override")
    out = out.assign_coords(group=np.asarray(labels, dtype=object))
    # netCDF keeps lists of strings only; one threshold per group as numbers
    out["threshold"] = ("group", np.asarray(attrs["threshold"], dtype=np.float64))
    out["n_permutations_done"] = ("group", np.asarray(attrs["n_permutations_done"], np.int64))
    return out


def _attrs(rel, kind, n_permutations, seed, tail, alpha, by, bin_width, tmin, tmax):
    t = rel.time.values
    return {
        "kind": kind,
        "n_permutations": int(n_permutations),
        "seed": "none" if seed is None else int(seed),
        "tail": int(tail),
        "alpha": float(alpha),
        "statistic": "t",
        "by": "none" if by is None else str(by),
        "tmin": float(t[0] if tmin is None else tmin),
        "tmax": float(t[-1] if tmax is None else tmax),
        "bin_width": 0.0 if bin_width is None else float(bin_width),
        "adjacency": "Delaunay triangulation of the channel positions "
                     f"(edges > {MAX_EDGE_FACTOR} x median dropped)",
        "relevance_method": str(rel.attrs.get("method", "")),
        "relevance_composite": str(rel.attrs.get("composite", "")),
    }


def select_group(result, group=None):
    """One group's part of a test result, without the ``group`` dimension.

    Parameters
    ----------
    result : xarray.Dataset
        From :func:`one_sample_test` or :func:`two_sample_test`.
    group : str | None
        The group to take from a per-group :func:`one_sample_test` result;
        ``None``: the only group there is.

    Returns
    -------
    result : xarray.Dataset

    Raises
    ------
    ValueError
        ``group`` is None and the result holds several groups.
    """
    if group is not None:
        return result.sel(group=group)
    if "group" in result.dims:
        if result.sizes["group"] != 1:
            raise ValueError(f"The result holds {result.sizes['group']} groups "
                             f"({list(map(str, result.group.values))}); pick one with "
                             "result.sel(group=...).")
        result = result.isel(group=0)
    return result


__all__ = ["channel_adjacency", "one_sample_test", "two_sample_test", "select_group",
           "significant_sensors", "summary_table"]

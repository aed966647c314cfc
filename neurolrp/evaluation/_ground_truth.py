"""Ground truth and comparisons: is the relevance where it should be?

On simulated data the truth of a decision is known (:func:`localization`);
on any data, single trials can be set against their class average
(:func:`trial_consistency`), relevance inside a region of interest against
outside it (:func:`context_use`), and two classifiers' evidence against each
other (:func:`compare_classifiers`).
"""

import numpy as np
import pandas as pd

from .._trials import check_data

#: The sensorimotor neighbourhoods of C3, Cz and C4: a region for :func:`context_use`.
SENSORIMOTOR = ("FC3", "FC1", "FCz", "FC2", "FC4", "C5", "C3", "C1", "Cz", "C2", "C4", "C6",
                "CP3", "CP1", "CPz", "CP2", "CP4")


def _truth_mask(truth, cls):
    """The truth mask (channel, time) of an explained class or contrast ``a-b``."""
    names = [str(c) for c in truth["class"].values]
    if cls in names:
        return truth.sel({"class": cls})
    for a in names:
        for b in names:
            if a != b and cls == f"{a}-{b}":
                return truth.sel({"class": a}) | truth.sel({"class": b})
    raise ValueError(f"The truth has no class {cls!r}; it has {names}.")


def _check_rel(rel, what="relevance"):
    """A relevance DataArray with finite values (the convention's dims)."""
    import xarray as xr

    if not isinstance(rel, xr.DataArray):
        raise TypeError(f"{what} must be a relevance DataArray, got {type(rel).__name__}.")
    if rel.dims != ("trial", "channel", "time"):
        raise ValueError(f"{what} must have dims ('trial', 'channel', 'time'), got {rel.dims}.")
    check_data(rel.values, what, cast=False)


def localization(relevance, truth):
    """Ground truth on simulated data: does the relevance sit where the classes differ?

    The truth of a decision between classes is where their generating
    processes differ (:func:`~neurolrp.datasets.simulate_motor_imagery`):
    for left vs right hand imagery both sensorimotor regions during the
    imagery, since less power over C4 *and* normal power over C3 both speak
    for "left". Each trial is scored against the truth of the class it was
    explained for (``target``; for a contrast ``a-b`` the union of both).

    Parameters
    ----------
    relevance : xarray.DataArray
        Relevance of simulated trials. Channels are matched by name, times
        to the nearest sample of the truth (so resampled data work).
    truth : xarray.DataArray
        The simulator's boolean mask (class, channel, time).

    Returns
    -------
    table : pandas.DataFrame
        Per trial: ``trial``, ``target``, ``y_true`` and ``correct`` (when
        known), ``auc`` (ROC-AUC of ``|relevance|`` against the mask: 0.5 is
        chance, 1 means every sample inside outranks every sample outside),
        ``mass_inside`` (share of ``|relevance|`` inside the mask),
        ``chance`` (the mask's share of the inputs: what a map blind to the
        truth gets) and ``positive_inside`` (share of the relevance inside
        the mask that is positive, i.e. evidence for the explained class; on
        a correctly classified trial a right explanation is mostly positive
        there).
    """
    from sklearn.metrics import roc_auc_score

    _check_rel(relevance)
    names = [str(c) for c in relevance.channel.values]
    missing = [c for c in names if c not in set(map(str, truth.channel.values))]
    if missing:
        raise ValueError(f"The truth has no channel(s) {missing[:5]} of the relevance.")
    t, tt = relevance.time.values, truth.time.values
    step = float(np.median(np.diff(tt))) if len(tt) > 1 else 1.0
    if t.min() < tt.min() - step / 2 or t.max() > tt.max() + step / 2:
        raise ValueError(f"The relevance's times ({t.min():g} to {t.max():g} s) lie outside the "
                         f"truth's ({tt.min():g} to {tt.max():g} s).")
    masks = {}
    rows = []
    values = relevance.values
    for k in range(relevance.sizes["trial"]):
        cls = str(relevance.target.values[k])
        if cls not in masks:
            m = _truth_mask(truth, cls).sel(channel=names).sel(time=t, method="nearest")
            masks[cls] = m.values.astype(bool)
        mask = masks[cls]
        v = values[k].astype(np.float64)
        a = np.abs(v)
        total, inside = a.sum(), a[mask].sum()
        row = {"trial": int(relevance.trial.values[k]), "target": cls,
               "auc": float(roc_auc_score(mask.ravel(), a.ravel())) if 0 < mask.mean() < 1
               else np.nan,
               "mass_inside": float(inside / total) if total > 0 else np.nan,
               "chance": float(mask.mean()),
               "positive_inside": float(np.clip(v[mask], 0, None).sum() / inside)
               if inside > 0 else np.nan}
        for c in ("y_true", "correct"):
            if c in relevance.coords:
                row[c] = relevance[c].values[k]
        rows.append(row)
    return pd.DataFrame(rows)


def trial_consistency(relevance):
    """How much does each trial's explanation deviate from its class average?

    The seed's point (Sturm et al. 2016): single-trial explanations show
    what the average hides. For every trial, the correlation of its map with
    the average of the *other* trials explained for the same class (leave
    one out, so a trial is not compared with itself).

    Parameters
    ----------
    relevance : xarray.DataArray
        Relevance of several trials per explained class.

    Returns
    -------
    table : pandas.DataFrame
        Per trial: ``trial``, ``target``, ``correct`` (when known),
        ``corr_topo`` (correlation of the scalp maps, relevance summed over
        time) and ``corr_map`` (of the channel x time maps).
    """
    _check_rel(relevance)
    values = relevance.values.astype(np.float64)
    targets = np.array([str(t) for t in relevance.target.values])
    rows = []
    for cls in np.unique(targets):
        idx = np.flatnonzero(targets == cls)
        if len(idx) < 2:
            continue
        total = values[idx].sum(axis=0)
        for k in idx:
            rest = (total - values[k]) / (len(idx) - 1)
            row = {"trial": int(relevance.trial.values[k]), "target": cls,
                   "corr_topo": _corr(values[k].sum(axis=1), rest.sum(axis=1)),
                   "corr_map": _corr(values[k].ravel(), rest.ravel())}
            if "correct" in relevance.coords:
                row["correct"] = bool(relevance.correct.values[k])
            rows.append(row)
    if not rows:
        raise ValueError("trial_consistency needs at least two trials explained for a class.")
    return pd.DataFrame(rows).sort_values("trial", kind="stable").reset_index(drop=True)


def _corr(a, b):
    a, b = a - a.mean(), b - b.mean()
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else np.nan


def context_use(relevance, channels=None, times=None):
    """Relevance inside vs outside a region of interest, per trial.

    Parameters
    ----------
    relevance : xarray.DataArray
        Relevance of any trials.
    channels : sequence of str | None
        Channels of the region (e.g. the sensorimotor neighbourhoods of C3,
        Cz, C4: ``neurolrp.evaluation.SENSORIMOTOR``); ``None``: all.
    times : (float, float) | None
        Time window of the region in seconds; ``None``: the whole epoch.

    Returns
    -------
    table : pandas.DataFrame
        Per trial: ``trial``, labels, ``inside`` and ``outside`` (sums of
        positive relevance), ``share_inside`` and ``share_of_inputs`` (the
        region's share of all inputs: what a context-blind map would get).
    """
    _check_rel(relevance)
    if channels is None and times is None:
        raise ValueError("Give channels and/or times to define the region of interest.")
    if isinstance(channels, str):
        raise TypeError(f"channels must be a list of channel names, got the string "
                        f"{channels!r}; write [{channels!r}] for one channel.")
    ch = [str(c) for c in relevance.channel.values]
    in_ch = np.ones(len(ch), bool)
    if channels is not None:
        missing = [c for c in channels if c not in ch]
        if missing:
            raise ValueError(f"Channels {missing} are not in the relevance.")
        in_ch = np.isin(ch, list(channels))
    t = relevance.time.values
    in_t = np.ones(len(t), bool) if times is None else (t >= times[0]) & (t <= times[1])
    if not in_t.any():
        raise ValueError(f"The window {times} holds no sample of the relevance "
                         f"({t[0]:g} to {t[-1]:g} s).")
    mask = in_ch[:, None] & in_t[None, :]
    pos = np.clip(relevance.values, 0, None)
    inside = pos[:, mask].sum(axis=1)
    total = pos.reshape(len(pos), -1).sum(axis=1)
    df = pd.DataFrame({"trial": relevance.trial.values, "inside": inside,
                       "outside": total - inside,
                       "share_inside": np.where(total > 0, inside / np.maximum(total, 1e-30),
                                                np.nan),
                       "share_of_inputs": mask.mean()})
    for c in ("y_true", "y_pred", "target", "correct"):
        if c in relevance.coords:
            df[c] = relevance[c].values
    return df


def align_relevance(rel_a, rel_b):
    """Check that two relevance arrays compare; ``rel_b``'s channels in ``rel_a``'s order.

    Parameters
    ----------
    rel_a, rel_b : xarray.DataArray
        Relevance of the same trials (with ``y_true``), explained for the
        same targets, with the same channels (in any order) and times.

    Returns
    -------
    rel_a, rel_b : xarray.DataArray
        ``rel_a`` as given, ``rel_b`` with its channels in ``rel_a``'s order.

    Raises
    ------
    ValueError
        Other trials, channels, times or targets, or no ``y_true``.
    TypeError
        Not a relevance DataArray.
    """
    for what, rel in (("rel_a", rel_a), ("rel_b", rel_b)):
        _check_rel(rel, what)
        if "y_true" not in rel.coords:
            raise ValueError(f"{what} has no y_true: explain labelled data to compare classes.")
    if rel_a.sizes["trial"] != rel_b.sizes["trial"] or \
            not np.array_equal(rel_a.trial.values, rel_b.trial.values):
        raise ValueError("rel_a and rel_b must explain the same trials.")
    ch_a, ch_b = [str(c) for c in rel_a.channel.values], [str(c) for c in rel_b.channel.values]
    if sorted(ch_a) != sorted(ch_b):
        raise ValueError("rel_a and rel_b must have the same channels (by name).")
    if not np.allclose(rel_a.time.values, rel_b.time.values):
        raise ValueError("rel_a and rel_b must have the same time samples.")
    if not np.array_equal(np.asarray(rel_a.target.values, str),
                          np.asarray(rel_b.target.values, str)):
        raise ValueError("rel_a and rel_b explain other targets; explain the same class or "
                         "contrast (e.g. target='true') with both.")
    return rel_a, rel_b.sel(channel=rel_a.channel.values)


def compare_classifiers(rel_a, rel_b, *, k=10, channels=SENSORIMOTOR, names=("a", "b")):
    """Same performance, same strategy? Compare two classifiers' relevance.

    Parameters
    ----------
    rel_a, rel_b : xarray.DataArray
        Relevance of the same trials by two classifiers (with ``y_true``).
    k : int
        Size of the top-k channel sets compared.
    channels : sequence of str
        Region for the context-use difference.
    names : (str, str)
        Labels of the two classifiers.

    Returns
    -------
    table : pandas.DataFrame
        Per class: ``corr_map`` (correlation of the class-average channel x
        time maps), ``corr_topo`` (of the channel maps summed over time),
        ``topk_overlap`` (Jaccard overlap of the top-k channels) and the
        share of positive relevance in ``channels`` for each classifier.
    """
    rel_a, rel_b = align_relevance(rel_a, rel_b)
    ch = [str(c) for c in rel_a.channel.values]
    roi = [c for c in channels if c in ch]
    rows = []
    for cls in sorted(set(map(str, rel_a.y_true.values))):
        sel = rel_a.y_true.values == cls
        ma, mb = rel_a.values[sel].mean(0), rel_b.values[sel].mean(0)
        ta, tb = ma.sum(1), mb.sum(1)
        top_a, top_b = set(np.argsort(-ta)[:k]), set(np.argsort(-tb)[:k])
        ca = context_use(rel_a.isel(trial=np.flatnonzero(sel)), channels=roi)
        cb = context_use(rel_b.isel(trial=np.flatnonzero(sel)), channels=roi)
        rows.append({"class": cls, "corr_map": float(np.corrcoef(ma.ravel(), mb.ravel())[0, 1]),
                     "corr_topo": float(np.corrcoef(ta, tb)[0, 1]),
                     "topk_overlap": len(top_a & top_b) / len(top_a | top_b),
                     f"roi_share_{names[0]}": float(ca.share_inside.mean()),
                     f"roi_share_{names[1]}": float(cb.share_inside.mean())})
    return pd.DataFrame(rows)

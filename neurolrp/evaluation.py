"""How good is an explanation? Perturbation, ground truth, context use, comparison.

- :func:`perturbation`: remove inputs in order of relevance and watch the
  score of the explained class (Samek et al. 2017), at three granularities,
  with AOPC per method and a confidence interval over trials.
- :func:`localization`: on simulated data, how much positive relevance falls
  inside the true (channel, time) region, and a ranking score (ROC-AUC).
- :func:`context_use`: relevance inside vs outside a region of interest
  (channels and/or a time window), after Lapuschkin et al. 2016.
- :func:`compare_classifiers`: do two classifiers use the same evidence?
"""

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ._utils import progress
from .attribution import explain
from .classifier import EEGClassifier, epochs_to_arrays

GRANULARITIES = ("patch", "channel", "time")
#: Methods whose maps are sensitivities (ranked by magnitude), not signed evidence.
MAGNITUDE_METHODS = ("gradient", "deconvnet", "guided-backprop")
SENSORIMOTOR = ("FC3", "FC1", "FCz", "FC2", "FC4", "C5", "C3", "C1", "Cz", "C2", "C4", "C6",
                "CP3", "CP1", "CPz", "CP2", "CP4")


@dataclass
class PerturbationResult:
    """Curves and AOPC of a perturbation analysis.

    Attributes
    ----------
    curves : pandas.DataFrame
        ``method``, ``granularity``, ``order`` (``"morf"``: most relevant
        first; ``"lerf"``: least relevant first), ``step``, ``fraction``
        (share of units removed), ``drop`` (mean of f(x) - f(x_step) over
        trials) and ``sem``.
    aopc : pandas.DataFrame
        ``method``, ``granularity``, ``order``, ``aopc`` (mean over trials),
        ``ci_low``, ``ci_high`` (95 % normal interval over trials),
        ``n_trials``.
    """

    curves: pd.DataFrame
    aopc: pd.DataFrame

    def table(self, order="morf"):
        """AOPC as a methods x granularities table."""
        df = self.aopc[self.aopc.order == order]
        return df.pivot(index="method", columns="granularity", values="aopc")


def _units(granularity, n_channels, n_times, sfreq, patch_seconds):
    """Masks (n_units, n_channels, n_times) of the units removed together."""
    w = max(1, int(round(patch_seconds * sfreq)))
    starts = range(0, n_times, w)
    if granularity == "channel":
        m = np.zeros((n_channels, n_channels, n_times), bool)
        m[np.arange(n_channels), np.arange(n_channels)] = True
        return m
    if granularity == "time":
        m = np.zeros((len(starts), n_channels, n_times), bool)
        for k, s in enumerate(starts):
            m[k, :, s:s + w] = True
        return m
    if granularity == "patch":
        m = np.zeros((n_channels * len(starts), n_channels, n_times), bool)
        for c in range(n_channels):
            for k, s in enumerate(starts):
                m[c * len(starts) + k, c, s:s + w] = True
        return m
    raise ValueError(f"granularity must be one of {GRANULARITIES}, got {granularity!r}.")


def _perturb_trials(clf, X, rels, target_idx, granularities, n_steps, max_fraction,
                    patch_seconds, replacement, rng):
    """Per-trial score drops: dict (method, gran, order) -> (n_trials, n_steps+1)."""
    Xs = clf.scale(X)
    n, c, t = Xs.shape
    out = {}
    for gran in granularities:
        units = _units(gran, c, t, clf.sfreq_, patch_seconds)
        n_units = len(units)
        n_remove = np.unique(np.round(np.linspace(0, max_fraction * n_units, n_steps + 1))
                             ).astype(int)
        for method, rel in rels.items():
            r = np.abs(rel) if method in MAGNITUDE_METHODS else rel
            unit_scores = np.einsum("nct,uct->nu", r, units.astype(np.float32))
            ties = rng.random(unit_scores.shape) * 1e-9  # break ties randomly (random method)
            for order in ("morf", "lerf"):
                ranks = np.argsort(-(unit_scores + ties) if order == "morf"
                                   else unit_scores + ties, axis=1)
                drops = np.empty((n, len(n_remove)))
                mask = np.zeros((n, c, t), bool)
                done = 0
                for i, k in enumerate(n_remove):
                    for j in range(done, k):  # add the units ranked done..k-1
                        mask |= units[ranks[:, j]]
                    done = k
                    Xp = Xs.copy()
                    if replacement == "noise":
                        # training statistics: after scaling, zero mean and unit variance
                        Xp[mask] = rng.standard_normal(int(mask.sum())).astype(np.float32)
                    else:
                        Xp[mask] = 0.0
                    drops[:, i] = _scores(clf, Xp, target_idx)
                out[(method, gran, order)] = (drops[:, :1] - drops, n_remove / n_units)
    return out


def _scores(clf, Xs, target_idx):
    import torch

    with torch.no_grad():
        logits = clf.module_(torch.from_numpy(np.ascontiguousarray(Xs, dtype=np.float32)))
    return logits.numpy()[np.arange(len(Xs)), target_idx]


def perturbation(model, data, relevance=None, *, network=None,
                 methods=("lrp", "gradient", "random"), composite=None,
                 granularities=GRANULARITIES, n_steps=10, max_fraction=0.5,
                 patch_seconds=0.25, replacement="noise", seed=0, verbose=None):
    """Perturbation analysis: remove the most (least) relevant inputs first.

    Parameters
    ----------
    model : EEGClassifier | CVResult
        A fitted classifier; or a :class:`~neurolrp.decoding.CVResult`, then
        every fold's network is tested on its own held-out trials (``data``
        must be the cross-validated epochs) and ``model`` names the network.
    data : mne.Epochs | array
        Trials to perturb (with labels if an array: not needed).
    relevance : dict | None
        Method name -> relevance DataArray of ``data`` (all with the same
        trials). ``None``: computed here for ``methods`` (always so with a
        CVResult).
    network : str | None
        With a CVResult: which cross-validated network (default: the first).
    methods : sequence of str
        Methods to compute when ``relevance`` is None: ``"lrp"`` (or
        ``"lrp:<composite>"``) and the other methods of :func:`explain`.
    composite : str | Composite | None
        Composite for ``"lrp"``.
    granularities : sequence of str
        ``"patch"`` (one channel x ``patch_seconds``), ``"channel"`` (whole
        channels), ``"time"`` (all channels in a ``patch_seconds`` window).
    n_steps : int
        Perturbation steps after the unperturbed one.
    max_fraction : float
        Share of the units removed at the last step.
    patch_seconds : float
        Length of a patch or time window.
    replacement : "noise" | "mean"
        What replaces a removed unit. ``"noise"`` (default): Gaussian noise
        with the training data's per-channel mean and standard deviation, so
        the removed part keeps the signal's overall power but loses its
        trial-specific content; ``"mean"``: the training mean, which for
        power-based networks also removes power (a fake desynchronisation).
    seed : int
        Seed of the noise, the random method and tie breaking.
    verbose : bool | None
        Show progress.

    Returns
    -------
    result : PerturbationResult
        Curves and AOPC, ``AOPC = 1/(L+1) sum_k (f(x_0) - f(x_k))`` over the
        ``L+1`` steps (Samek et al. 2017), per trial then averaged.
    """
    from .decoding import CVResult

    if replacement not in ("noise", "mean"):
        raise ValueError(f"replacement must be 'noise' or 'mean', got {replacement!r}.")
    for g in granularities:
        if g not in GRANULARITIES:
            raise ValueError(f"granularity must be one of {GRANULARITIES}, got {g!r}.")
    rng = np.random.default_rng(seed)
    if isinstance(model, CVResult):
        nets = [m for m in model.estimators if m != "csp+lda"]
        network = network or nets[0]
        if network not in nets:
            raise ValueError(f"No cross-validated network {network!r}; have {nets}.")
        pairs = [(est, test) for est, (_, test) in zip(model.estimators[network], model.folds)]
        relevance = None
    else:
        if not isinstance(model, EEGClassifier):
            raise TypeError("model must be a fitted EEGClassifier or a CVResult.")
        pairs = [(model, None)]

    per = {}
    for clf, test in progress(pairs, "Perturbation", total=len(pairs), verbose=verbose):
        part = data if test is None else data[test]
        X = epochs_to_arrays(part)[0] if hasattr(part, "events") else np.asarray(part)
        rels = relevance if relevance is not None else {
            m: explain(clf, part, _method(m), composite=_composite(m, composite), seed=seed,
                       verbose=False) for m in methods}
        rels_np = {m: np.asarray(r.values, dtype=np.float32) for m, r in rels.items()}
        first = next(iter(rels.values()))
        classes = list(map(str, clf.classes_))
        target_idx = np.array([classes.index(str(t)) if str(t) in classes else 0
                               for t in first.target.values])
        res = _perturb_trials(clf, X.astype(np.float32), rels_np, target_idx, granularities,
                              n_steps, max_fraction, patch_seconds, replacement, rng)
        for key, (drops, frac) in res.items():
            per.setdefault(key, ([], frac))[0].append(drops)

    curves, aopc = [], []
    for (method, gran, order), (chunks, frac) in per.items():
        drops = np.concatenate(chunks)
        n = len(drops)
        sem = drops.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.zeros(drops.shape[1])
        for k in range(drops.shape[1]):
            curves.append({"method": method, "granularity": gran, "order": order, "step": k,
                           "fraction": frac[k], "drop": drops[:, k].mean(), "sem": sem[k]})
        per_trial = drops.mean(axis=1)
        m, s = per_trial.mean(), (per_trial.std(ddof=1) / np.sqrt(n) if n > 1 else 0.0)
        aopc.append({"method": method, "granularity": gran, "order": order, "aopc": m,
                     "ci_low": m - 1.96 * s, "ci_high": m + 1.96 * s, "n_trials": n})
    return PerturbationResult(pd.DataFrame(curves), pd.DataFrame(aopc))


def _method(name):
    return "lrp" if name.startswith("lrp") else name


def _composite(name, default):
    return name.split(":", 1)[1] if name.startswith("lrp:") else default


def plot_perturbation(result, order="morf"):
    """Perturbation curves, one panel per granularity.

    Parameters
    ----------
    result : PerturbationResult
    order : "morf" | "lerf"

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    df = result.curves[result.curves.order == order]
    grans = [g for g in GRANULARITIES if g in set(df.granularity)]
    fig, axes = plt.subplots(1, len(grans), figsize=(2.8 * len(grans), 2.8), squeeze=False)
    aopc = result.aopc.set_index(["method", "granularity", "order"]).aopc
    for ax, g in zip(axes[0], grans):
        for k, (method, d) in enumerate(df[df.granularity == g].groupby("method", sort=False)):
            style = dict(color="0.5", ls="--") if method == "random" else dict(color=f"C{k}")
            ax.plot(d.fraction * 100, d["drop"], label=f"{method} ({aopc[method, g, order]:.2f})",
                    **style)
            ax.fill_between(d.fraction * 100, d["drop"] - d["sem"], d["drop"] + d["sem"],
                            alpha=0.2, color=style["color"])
        unit = {"patch": "patches", "channel": "channels", "time": "time windows"}[g]
        ax.set_title(f"{unit} removed, {'most' if order == 'morf' else 'least'} relevant first",
                     fontsize=8)
        ax.set_xlabel("% removed")
        ax.axhline(0, color="k", lw=0.5)
        ax.legend(fontsize=6, title="method (AOPC)", title_fontsize=6)
    axes[0, 0].set_ylabel("score drop f(x) - f(x_k)")
    fig.tight_layout()
    return fig


def localization(relevance, truth):
    """Ground truth on simulated data: where does the relevance fall?

    Parameters
    ----------
    relevance : xarray.DataArray
        Relevance of simulated trials (with ``y_true``).
    truth : xarray.DataArray
        The simulator's boolean mask (class, channel, time).

    Returns
    -------
    table : pandas.DataFrame
        Per trial: ``trial``, ``y_true``, ``share_inside`` (positive
        relevance inside the true class's region / all positive relevance),
        ``chance`` (the region's share of the inputs) and ``auc`` (ROC-AUC
        of the relevance values against the mask).
    """
    from sklearn.metrics import roc_auc_score

    if "y_true" not in relevance.coords:
        raise ValueError("localization needs y_true on the relevance (explain labelled data).")
    rows = []
    for t in range(relevance.sizes["trial"]):
        r = relevance.isel(trial=t)
        cls = str(r.y_true.item())
        mask = truth.sel({"class": cls}).values
        v = r.values
        pos = np.clip(v, 0, None)
        total = pos.sum()
        rows.append({"trial": int(r.trial.item()), "y_true": cls,
                     "share_inside": float(pos[mask].sum() / total) if total > 0 else np.nan,
                     "chance": float(mask.mean()),
                     "auc": float(roc_auc_score(mask.ravel(), v.ravel()))})
    return pd.DataFrame(rows)


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
    if channels is None and times is None:
        raise ValueError("Give channels and/or times to define the region of interest.")
    ch = [str(c) for c in relevance.channel.values]
    in_ch = np.ones(len(ch), bool)
    if channels is not None:
        missing = [c for c in channels if c not in ch]
        if missing:
            raise ValueError(f"Channels {missing} are not in the relevance.")
        in_ch = np.isin(ch, list(channels))
    t = relevance.time.values
    in_t = np.ones(len(t), bool) if times is None else (t >= times[0]) & (t <= times[1])
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
    if rel_a.sizes["trial"] != rel_b.sizes["trial"] or \
            not np.array_equal(rel_a.trial.values, rel_b.trial.values):
        raise ValueError("rel_a and rel_b must explain the same trials.")
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


def plot_compare_classifiers(rel_a, rel_b, names=("a", "b"), tmin=0.5, tmax=2.5):
    """Class-average maps of two classifiers side by side, with the agreement.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    from .relevance import to_info
    from .viz import _sym_limit, _topomap, window_sums

    table = compare_classifiers(rel_a, rel_b, names=names)
    classes = list(table["class"])
    info = to_info(rel_a)
    fig, axes = plt.subplots(len(classes), 2, figsize=(4.2, 2.1 * len(classes)), squeeze=False)
    for i, cls in enumerate(classes):
        for j, (rel, name) in enumerate(zip((rel_a, rel_b), names)):
            sub = rel.isel(trial=np.flatnonzero(rel.y_true.values == cls))
            m = window_sums(sub, [(tmin, tmax)])[0]
            _topomap(axes[i, j], m, info, _sym_limit(m))
            axes[i, j].set_title(f"{name}: {cls}", fontsize=8)
        row = table.iloc[i]
        axes[i, 1].text(1.05, 0.5, f"r = {row.corr_topo:.2f}\ntop-10 overlap "
                        f"{row.topk_overlap:.2f}", transform=axes[i, 1].transAxes, fontsize=7,
                        va="center")
    fig.suptitle(f"relevance {tmin:g}-{tmax:g} s, class averages", fontsize=9)
    return fig

"""Perturbation: remove inputs in order of relevance and watch the explained score.

:func:`perturbation` (Samek et al. 2017) at three granularities, with AOPC
per method and a confidence interval over trials; :func:`neutrality` checks
first that a replacement removes information and nothing else.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from .._trials import check_data, check_like_fit, epoch_ids, epochs_arrays
from .._utils import progress, verbose
from ..attribution import explain
from ..classifier import EEGClassifier
from ..decoding import BASELINES, CVResult

#: How inputs are grouped for removal: patches (one channel x a time window),
#: whole channels, or time windows over all channels.
GRANULARITIES = ("patch", "channel", "time")
#: Methods whose maps are sensitivities (ranked by magnitude), not signed evidence.
MAGNITUDE_METHODS = ("gradient", "deconvnet", "guided-backprop")


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
    per_trial : pandas.DataFrame
        ``method``, ``granularity``, ``order``, ``trial`` (index into the
        perturbed data), ``aopc``: for paired comparisons of methods.
    """

    curves: pd.DataFrame
    aopc: pd.DataFrame
    per_trial: pd.DataFrame = None

    def table(self, order="morf"):
        """AOPC as a methods x granularities table."""
        df = self.aopc[self.aopc.order == order]
        return df.pivot(index="method", columns="granularity", values="aopc")

    def compare(self, a, b, order="morf"):
        """Paired difference of AOPC, method ``a`` minus ``b``, per granularity.

        Both methods were scored on the same trials, so the large
        trial-to-trial spread of the scores, which widens each method's own
        interval, cancels in the difference.

        Returns
        -------
        table : pandas.DataFrame
            ``granularity``, ``difference`` (mean over trials), ``ci_low``,
            ``ci_high`` (95 % normal interval), ``n_trials``.
        """
        df = self.per_trial[self.per_trial.order == order]
        rows = []
        for gran, d in df.groupby("granularity", sort=False):
            pa = d[d.method == a].set_index("trial").aopc
            pb = d[d.method == b].set_index("trial").aopc
            if pa.empty or pb.empty:
                raise ValueError(f"No AOPC for {a!r} or {b!r}; have {sorted(set(d.method))}.")
            diff = (pa - pb.loc[pa.index]).to_numpy()
            m = diff.mean()
            s = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else 0.0
            rows.append({"granularity": gran, "difference": m, "ci_low": m - 1.96 * s,
                         "ci_high": m + 1.96 * s, "n_trials": len(diff)})
        return pd.DataFrame(rows)


#: What can replace the removed inputs (see :func:`perturbation`).
REPLACEMENTS = ("conditional", "resample", "noise", "mean")


def _unit_ids(granularity, n_channels, n_times, sfreq, patch_seconds):
    """Unit of every (channel, time) sample, and the window length in samples.

    The units of a granularity partition the trial: whole channels, time
    windows of ``patch_seconds`` over all channels, or patches of one
    channel x one window.
    """
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {GRANULARITIES}, got {granularity!r}.")
    w = max(1, int(round(patch_seconds * sfreq)))
    n_win = -(-n_times // w)
    win = np.arange(n_times) // w
    ch = np.arange(n_channels)[:, None]
    if granularity == "channel":
        return np.broadcast_to(ch, (n_channels, n_times)).copy(), w
    if granularity == "time":
        return np.broadcast_to(win, (n_channels, n_times)).copy(), w
    return ch * n_win + win[None, :], w


def _unit_sums(r, granularity, w):
    """Relevance summed per unit: (n_trials, n_units), in the order of ``_unit_ids``."""
    n, c, t = r.shape
    n_win = -(-t // w)
    padded = np.zeros((n, c, n_win * w), dtype=np.float64)
    padded[:, :, :t] = r
    per_patch = padded.reshape(n, c, n_win, w).sum(axis=3)
    if granularity == "channel":
        return per_patch.sum(axis=2)
    if granularity == "time":
        return per_patch.sum(axis=1)
    return per_patch.reshape(n, c * n_win)


def spatial_precision(Xs, shrinkage=1e-3):
    """Inverse spatial covariance of scaled trials (n_trials, n_channels, n_times).

    The covariance is pooled over trials and samples and shrunk towards its
    average variance by ``shrinkage`` so that it can be inverted.
    """
    flat = np.ascontiguousarray(Xs.transpose(1, 0, 2)).reshape(Xs.shape[1], -1)
    flat = flat.astype(np.float64)
    cov = flat @ flat.T / flat.shape[1]
    cov += shrinkage * np.trace(cov) / len(cov) * np.eye(len(cov))
    return np.linalg.inv(cov)


class _Filler:
    """What replaces the removed samples of the trials ``Xs`` at one granularity.

    Replacement values are drawn once (per trial and unit or window) and
    shared by every method and step, so methods are compared on the same
    perturbed trials and a removed unit keeps its replacement as more units
    are removed. ``fill(removed, out)`` writes the trials, with the samples
    where ``removed`` is True replaced, into ``out``.
    """

    def __init__(self, kind, Xs, ids, window, granularity, reference, self_donor, rng,
                 precision=None):
        self.kind, self.Xs = kind, Xs
        n, c, t = Xs.shape
        # time windows inside which every unit covers whole windows of its channels
        self.window = t if granularity == "channel" else window
        self.n_win = -(-t // self.window)
        if kind == "mean":  # the training mean (zero after scaling)
            self.values = np.zeros_like(Xs)
        elif kind == "noise":  # white noise with the training mean and variance
            self.values = rng.standard_normal(Xs.shape).astype(np.float32)
        else:
            m = len(reference)
            if kind == "resample":  # each unit from its own random trial
                n_draw, where = int(ids.max()) + 1, ids
            else:  # conditional: one trial per time window, for all its channels
                n_draw = self.n_win
                where = np.broadcast_to(np.arange(t) // self.window, (c, t))
            if self_donor:  # the reference is the perturbed trials: never a trial's own
                donors = rng.integers(0, m - 1, size=(n, n_draw))
                donors += donors >= np.arange(n)[:, None]
            else:
                donors = rng.integers(0, m, size=(n, n_draw))
            self.values = reference[donors[:, where], np.arange(c)[None, :, None],
                                    np.arange(t)[None, None, :]]
        if kind == "conditional":
            self.P = precision
            self.diff = (Xs - self.values).astype(np.float64)

    def fill(self, removed, out):
        """The trials with the ``removed`` samples replaced, written into ``out``."""
        np.copyto(out, self.Xs)
        if self.kind != "conditional":
            np.copyto(out, self.values, where=removed)
            return out
        # x_S = d_S + E[x_S - d_S | x_R - d_R]: the removed channels keep what the
        # remaining ones predict of them (volume conduction) and take the rest
        # from the donor trial, so the trial keeps the spatial covariance of real
        # EEG and a spatial filter sees neither a decorrelated channel nor lost
        # power. Gaussian conditional through the precision P:
        # z_S = -P_SS^-1 P_SR v_R, solved for all (trial, window) pairs at once
        # as Q z = rhs with Q = block-diag(P_SS, I), the same size for every pair.
        w, P = self.window, self.P
        c = P.shape[0]
        for j in range(self.n_win):
            sl = slice(j * w, (j + 1) * w)
            m = removed[:, :, j * w]  # (n, c): the removal is constant inside a window
            every = m.all(axis=1)
            if every.any():
                out[every, :, sl] = self.values[every, :, sl]
            some = np.flatnonzero(m.any(axis=1) & ~every)
            if not len(some):
                continue
            mk = m[some].astype(np.float64)
            Q = P[None] * mk[:, :, None] * mk[:, None, :]
            Q[:, np.arange(c), np.arange(c)] += 1.0 - mk
            v = self.diff[some, :, sl] * (1.0 - mk)[:, :, None]
            rhs = -mk[:, :, None] * np.matmul(P, v)
            block = self.values[some, :, sl] + np.linalg.solve(Q, rhs)
            cur = out[some, :, sl]
            np.copyto(cur, block, where=m[some][:, :, None], casting="unsafe")
            out[some, :, sl] = cur
        return out


def _perturb_trials(module, Xs, rels, E, granularities, n_steps, max_fraction, patch_seconds,
                    sfreq, replacement, reference, self_donor, precision, rng):
    """Per-trial score drops: dict (method, gran, order) -> ((n_trials, n_steps+1), fractions)."""
    n, c, t = Xs.shape
    out = {}
    buf = np.empty_like(Xs)
    for gran in granularities:
        ids, w = _unit_ids(gran, c, t, sfreq, patch_seconds)
        n_units = int(ids.max()) + 1
        n_remove = np.unique(np.round(np.linspace(0, max_fraction * n_units, n_steps + 1))
                             ).astype(int)
        filler = _Filler(replacement, Xs, ids, w, gran, reference, self_donor, rng, precision)
        for method, rel in rels.items():
            r = np.abs(rel) if method in MAGNITUDE_METHODS else rel
            unit_scores = _unit_sums(r, gran, w)
            ties = rng.random(unit_scores.shape) * 1e-9  # break ties randomly (random method)
            for order in ("morf", "lerf"):
                ranked = np.argsort(-(unit_scores + ties) if order == "morf"
                                    else unit_scores + ties, axis=1)
                rank_of_unit = np.empty_like(ranked)
                np.put_along_axis(rank_of_unit, ranked, np.arange(n_units)[None, :], axis=1)
                rank = rank_of_unit[:, ids]  # (n, c, t): when each sample is removed
                scores = np.empty((n, len(n_remove)))
                for i, k in enumerate(n_remove):
                    scores[:, i] = _scores(module, filler.fill(rank < k, buf), E)
                out[(method, gran, order)] = (scores[:, :1] - scores, n_remove / n_units)
    return out


def _scores(module, Xs, E, batch_size=256):
    """The explained output ``sum_k E[n, k] f_k(x_n)`` of scaled trials ``Xs``."""
    import torch

    from .._device import module_device

    device = module_device(module)  # the network's device; batches travel to it
    out = np.empty(len(Xs))
    with torch.no_grad():
        for s in range(0, len(Xs), batch_size):
            logits = module(torch.from_numpy(np.ascontiguousarray(Xs[s:s + batch_size]))
                            .to(device))
            out[s:s + batch_size] = (logits.cpu().numpy() * E[s:s + batch_size]).sum(axis=1)
    return out


def target_selector(targets, classes):
    """The explained output of each trial as weights on the model's outputs.

    Parameters
    ----------
    targets : sequence of str
        The relevance's ``target`` coordinate: a class name, or ``"a-b"`` for
        a contrast (the output of ``a`` minus that of ``b``).
    classes : sequence
        The model's classes, in output order.

    Returns
    -------
    E : ndarray, shape (n_trials, n_classes)
        One-hot rows for a class, ``+1/-1`` for a contrast.
    """
    classes = [str(c) for c in classes]
    contrasts = {f"{a}-{b}": (i, j) for i, a in enumerate(classes)
                 for j, b in enumerate(classes) if i != j}
    E = np.zeros((len(targets), len(classes)))
    for n, tgt in enumerate(map(str, targets)):
        if tgt in classes and tgt in contrasts:
            raise ValueError(f"The target {tgt!r} names both a class and the contrast "
                             f"{contrasts[tgt]} of two classes; rename the classes.")
        if tgt in classes:
            E[n, classes.index(tgt)] = 1.0
        elif tgt in contrasts:
            i, j = contrasts[tgt]
            E[n, i], E[n, j] = 1.0, -1.0
        else:
            raise ValueError(f"The relevance explains {tgt!r}, which is neither a class of the "
                             f"model ({classes}) nor a contrast of two of them.")
    return E


def _as_scaled(clf, part, what="data"):
    """Scaled float32 trials of epochs or an array, checked against the classifier.

    Returns the trials and their channel names (the good EEG channels of
    epochs, as everywhere in neurolrp; ``None`` for an array).
    """
    if hasattr(part, "events"):
        X, _, sfreq, names = epochs_arrays(part, what)
        tmin = float(part.tmin)
    else:
        X, sfreq, names, tmin = part, None, None, None
    X = check_data(X, what)
    check_like_fit(clf, n_channels=X.shape[1], n_times=X.shape[2], ch_names=names,
                   sfreq=sfreq, tmin=tmin, data=X, what=what)
    return np.ascontiguousarray(clf.scale(X), dtype=np.float32), names


def _check_relevance(rels, n_trials, ch_names):
    """Every relevance array explains the same trials and channels as the data."""
    first = next(iter(rels.values()))
    for name, rel in rels.items():
        if rel.sizes["trial"] != n_trials:
            raise ValueError(f"relevance[{name!r}] has {rel.sizes['trial']} trials; the data "
                             f"have {n_trials}.")
        if not np.array_equal(rel.trial.values, first.trial.values) or \
                not np.array_equal(rel.target.values, first.target.values):
            raise ValueError(f"relevance[{name!r}] explains other trials or targets than "
                             f"relevance[{next(iter(rels))!r}]; compare methods on the same "
                             "trials and target.")
        if ch_names is not None and [str(c) for c in rel.channel.values] != list(ch_names):
            raise ValueError(f"relevance[{name!r}] is labelled with other channels (or another "
                             "order) than the data.")
        check_data(rel.values, f"relevance[{name!r}]", cast=False)


def _check_scores(rels, f0):
    """The relevance must come from this model and these trials: its scores say so."""
    for name, rel in rels.items():
        score = rel.score.values.astype(np.float64)
        err = np.abs(score - f0)
        bad = err > 1e-3 * (1.0 + np.abs(f0))
        if bad.any():
            k = int(np.argmax(err))
            raise ValueError(
                f"relevance[{name!r}] was not computed by this model on these trials: its "
                f"explained score differs from the model's output at {int(bad.sum())} "
                f"trial(s) (trial {k}: {score[k]:.4g} vs {f0[k]:.4g}). Explain the same "
                "data, in the same order, with this model.")


def _check_cv_data(cv, data):
    """``data`` must be the epochs that were cross-validated: count and labels."""
    n_cv = sum(len(test) for _, test in cv.folds)
    if len(data) != n_cv:
        raise ValueError(f"data have {len(data)} trials; the cross-validation had {n_cv}. "
                         "Pass the epochs that were cross-validated.")
    if hasattr(data, "events"):
        y = epochs_arrays(data)[1]
        pred = cv.predictions.drop_duplicates("trial")  # the first model's rows, in order
        if not np.array_equal(np.asarray(y, dtype=str), pred.y_true.to_numpy(dtype=str)):
            raise ValueError("The epochs' labels differ from those that were cross-validated "
                             "(another recording or another trial order); pass the same "
                             "epochs.")


def _fold_models(model, data, network=None):
    """The networks to evaluate, each with the trials of ``data`` it trained and is tested on.

    Returns
    -------
    pairs : list of (EEGClassifier, array | None, array | None)
        For a fitted classifier one entry, ``(model, None, None)`` (all of
        ``data`` is tested); for a :class:`~neurolrp.decoding.CVResult` one
        per fold: that fold's ``network`` (default: the first network
        cross-validated) with its training and held-out positions in
        ``data``, which must be the cross-validated epochs.
    """
    if isinstance(model, CVResult):
        nets = [m for m in model.estimators if m not in BASELINES]
        network = network or nets[0]
        if network not in nets:
            raise ValueError(f"No cross-validated network {network!r}; have {nets}.")
        _check_cv_data(model, data)
        return [(est, train, test) for est, (train, test)
                in zip(model.estimators[network], model.folds)]
    if not isinstance(model, EEGClassifier):
        raise TypeError("model must be a fitted EEGClassifier or a CVResult.")
    check_is_fitted(model)
    return [(model, None, None)]


def _reference(clf, Xs, data, train, reference, replacement):
    """(reference trials, whether they are the perturbed trials, spatial precision)."""
    if replacement in ("mean", "noise"):
        return None, False, None
    if train is not None:
        ref, self_donor = _as_scaled(clf, data[train], "training trials")[0], False
    elif reference is not None:
        ref, self_donor = _as_scaled(clf, reference, "reference")[0], False
    else:
        if len(Xs) < 2:
            raise ValueError(f"replacement={replacement!r} needs reference trials: pass "
                             "reference= (e.g. the training trials) or more than one trial.")
        ref, self_donor = Xs, True
    precision = spatial_precision(ref) if replacement == "conditional" else None
    return ref, self_donor, precision


@verbose
def perturbation(model, data, relevance=None, *, network=None,
                 methods=("lrp", "gradient", "random"), composite=None,
                 granularities=GRANULARITIES, n_steps=10, max_fraction=0.5,
                 patch_seconds=0.25, replacement="conditional", reference=None, seed=0,
                 verbose=None):
    """Perturbation analysis: remove the most (least) relevant inputs first.

    Parameters
    ----------
    model : EEGClassifier | CVResult
        A fitted classifier; or a :class:`~neurolrp.decoding.CVResult`, then
        every fold's network is tested on its own held-out trials (``data``
        must be the cross-validated epochs) and ``network`` names it.
    data : mne.Epochs | array
        Trials to perturb (labels are not needed).
    relevance : dict | None
        Method name -> relevance DataArray of ``data`` (all of the same
        trials and target). With a CVResult, the relevance of all trials of
        ``data`` out of fold (:func:`~neurolrp.attribution.explain_out_of_fold`,
        ``trial`` = index into ``data``). ``None``: computed here for
        ``methods``. The relevance's ``target`` says which output is watched
        (a class, or ``"a-b"`` for a contrast), and its ``score`` must equal
        the model's output on ``data``: relevance of other trials or another
        model is an error, not a silently wrong curve.
    network : str | None
        With a CVResult: which cross-validated network (default: the first).
    methods : sequence of str
        Methods to compute when ``relevance`` is None: ``"lrp"`` (or
        ``"lrp:<composite>"``) and the other methods of :func:`explain`.
    composite : str | Composite | None
        Composite for ``"lrp"``; ``None`` (default): each network's own
        default (:func:`neurolrp.lrp.default_composite`), as in
        :func:`~neurolrp.explain`.
    granularities : sequence of str
        ``"patch"`` (one channel x ``patch_seconds``), ``"channel"`` (whole
        channels), ``"time"`` (all channels in a ``patch_seconds`` window).
    n_steps : int
        Perturbation steps after the unperturbed one.
    max_fraction : float
        Share of the units removed at the last step, in (0, 1].
    patch_seconds : float
        Length of a patch or time window.
    replacement : "conditional" | "resample" | "noise" | "mean"
        What replaces a removed unit; :func:`neutrality` measures whether a
        replacement removes information and nothing else.

        - ``"conditional"`` (default): the removed samples of a trial are
          drawn from a random *reference* trial at the same channels and
          times, *given* the channels that remain: ``x_S = d_S + E[x_S - d_S
          | x_R - d_R]`` under a Gaussian model of the spatial covariance
          (Strobl et al. 2008; Zintgraf et al. 2017). The trial keeps the
          spectrum, power and spatial correlations of real EEG and loses
          what was specific to it; the only replacement that was neutral at
          every granularity here (simulated and real motor imagery).
        - ``"resample"``: each unit from its own random reference trial
          (the data's marginal, as in permutation importance). Neutral for
          whole time windows, but a channel copied from another trial no
          longer correlates with its neighbours, so a spatial filter stops
          cancelling the background and reads more power.
        - ``"noise"``: white noise with the channel's training mean and
          variance; band-passed EEG has its power in the band and white
          noise does not, so a power-based network reads a replaced channel
          as a desynchronisation.
        - ``"mean"``: the training mean, which removes the power altogether.
    reference : mne.Epochs | array | None
        Trials that ``"conditional"`` and ``"resample"`` draw from (and whose
        spatial covariance the conditional uses). Default: with a CVResult
        each fold's training trials; with a classifier the other trials of
        ``data`` (pass the training trials when you have them).
    seed : int
        Seed of the replacements, the random method and tie breaking.
    %(verbose)s

    Returns
    -------
    result : PerturbationResult
        Curves and AOPC, ``AOPC = 1/(L+1) sum_k (f(x_0) - f(x_k))`` over the
        ``L+1`` steps (Samek et al. 2017), per trial then averaged, with
        ``f`` the explained output.
    """
    if replacement not in REPLACEMENTS:
        raise ValueError(f"replacement must be one of {REPLACEMENTS}, got {replacement!r}.")
    for g in granularities:
        if g not in GRANULARITIES:
            raise ValueError(f"granularity must be one of {GRANULARITIES}, got {g!r}.")
    if not (isinstance(n_steps, (int, np.integer)) and n_steps >= 1):
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}.")
    if not 0 < max_fraction <= 1:
        raise ValueError(f"max_fraction must lie in (0, 1], got {max_fraction!r}.")
    if relevance is not None:
        if not isinstance(relevance, dict) or not relevance:
            raise TypeError("relevance must be a non-empty dict: method name -> relevance.")
    rng = np.random.default_rng(seed)
    n_data = len(data)
    pairs = _fold_models(model, data, network)
    if isinstance(model, CVResult):
        # trial numbers of data (epochs' own indices, as explain_out_of_fold gives them)
        ids = epoch_ids(data, n_data) if hasattr(data, "events") else np.arange(n_data)
        if relevance is not None:
            for name, rel in relevance.items():
                if sorted(rel.trial.values.tolist()) != sorted(ids.tolist()):
                    raise ValueError(f"relevance[{name!r}] must hold every trial of data, "
                                     "out of fold; use explain_out_of_fold.")

    per, trial_ids = {}, []
    for clf, train, test in progress(pairs, "Perturbation", total=len(pairs), verbose=verbose):
        part = data if test is None else data[test]
        Xs, ch_names = _as_scaled(clf, part)
        if relevance is None:
            rels = {m: explain(clf, part, _method(m), verbose=False,
                               **_method_options(m, composite, seed)) for m in methods}
        elif test is None:
            rels = relevance
        else:
            rels = {m: r.sel(trial=ids[test]) for m, r in relevance.items()}
        _check_relevance(rels, len(Xs), ch_names)
        E = target_selector(next(iter(rels.values())).target.values, clf.classes_)
        _check_scores(rels, _scores(clf.module_, Xs, E))
        ref, self_donor, precision = _reference(clf, Xs, data, train, reference,
                                                replacement)
        rels_np = {m: np.asarray(r.values, dtype=np.float32) for m, r in rels.items()}
        res = _perturb_trials(clf.module_, Xs, rels_np, E, granularities, n_steps,
                              max_fraction, patch_seconds, clf.sfreq_, replacement, ref,
                              self_donor, precision, rng)
        for key, (drops, frac) in res.items():
            per.setdefault(key, ([], frac))[0].append(drops)
        trial_ids.append(np.arange(len(Xs)) if test is None else np.asarray(test))

    trial_ids = np.concatenate(trial_ids)
    curves, aopc, per_trials = [], [], []
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
        per_trials.append(pd.DataFrame({"method": method, "granularity": gran, "order": order,
                                        "trial": trial_ids, "aopc": per_trial}))
    return PerturbationResult(pd.DataFrame(curves), pd.DataFrame(aopc),
                              pd.concat(per_trials, ignore_index=True))


def neutrality(model, data, *, replacements=REPLACEMENTS, fraction=0.1, granularity="patch",
               patch_seconds=0.25, reference=None, network=None, n_repeats=5, seed=0):
    """Does removing inputs at random leave the network's decisions alone?

    A perturbation should remove information and nothing else. Removing a
    random ``fraction`` of the units loses a little information, which shrinks
    the scores towards the decision boundary but favours no class; a
    replacement that adds something the network reads as evidence (white
    noise or the mean replacing band-limited EEG look like a
    desynchronisation to a log-power network) shifts every trial's scores the
    same way and changes decisions.

    Parameters
    ----------
    model : EEGClassifier | CVResult
        As in :func:`perturbation` (a CVResult: every fold on its test trials,
        drawing from its training trials).
    data : mne.Epochs | array
        Trials; labels are needed for accuracy (epochs carry them).
    replacements : sequence of str
        Replacements to compare (see :func:`perturbation`).
    fraction : float
        Share of units removed at random.
    granularity : str
        ``"patch"``, ``"channel"`` or ``"time"``.
    patch_seconds : float
        Length of a patch or time window.
    reference : mne.Epochs | array | None
        Trials to resample from (see :func:`perturbation`).
    network : str | None
        With a CVResult: which network.
    n_repeats : int
        Independent random removals, averaged.
    seed : int
        Seed of the removals and replacements.

    Returns
    -------
    table : pandas.DataFrame
        One row per replacement: ``accuracy_before``, ``accuracy_after``
        (mean over repeats), ``score_shift`` (largest over outputs of the mean
        change of an output, in units of that output's standard deviation
        over trials: 0 for a neutral replacement) and ``score_change``
        (mean absolute change of the outputs, same units: the information
        lost plus any artefact).
    """
    for r in replacements:
        if r not in REPLACEMENTS:
            raise ValueError(f"replacement must be one of {REPLACEMENTS}, got {r!r}.")
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must lie in (0, 1), got {fraction!r}.")
    pairs = _fold_models(model, data, network)
    y_all = epochs_arrays(data)[1] if hasattr(data, "events") else None
    rows = []
    for rep in replacements:
        rng = np.random.default_rng(seed)
        before, after, labels = [], [], []
        for clf, train, test in pairs:
            part = data if test is None else data[test]
            Xs = _as_scaled(clf, part)[0]
            n, c, t = Xs.shape
            ids, w = _unit_ids(granularity, c, t, clf.sfreq_, patch_seconds)
            n_units = int(ids.max()) + 1
            k = max(1, int(round(fraction * n_units)))
            ref, self_donor, precision = _reference(clf, Xs, data, train, reference, rep)
            eye = np.eye(len(clf.classes_))
            f0 = np.stack([_scores(clf.module_, Xs, np.tile(e, (n, 1))) for e in eye], 1)
            f1 = np.zeros((n_repeats,) + f0.shape)
            for j in range(n_repeats):
                rank = np.argsort(rng.random((n, n_units)), axis=1).argsort(axis=1)[:, ids]
                filler = _Filler(rep, Xs, ids, w, granularity, ref, self_donor, rng, precision)
                Xp = filler.fill(rank < k, np.empty_like(Xs))
                f1[j] = np.stack([_scores(clf.module_, Xp, np.tile(e, (n, 1))) for e in eye], 1)
            before.append(f0)
            after.append(f1)
            labels.append(clf.classes_)
        f0 = np.concatenate(before)
        f1 = np.concatenate(after, axis=1)
        sd = f0.std(axis=0, ddof=1)
        sd[sd == 0] = 1.0
        row = {"replacement": rep, "fraction": fraction, "granularity": granularity,
               "score_shift": float(np.abs((f1 - f0).mean(axis=(0, 1)) / sd).max()),
               "score_change": float((np.abs(f1 - f0).mean(axis=(0, 1)) / sd).mean())}
        if y_all is not None:
            y = y_all if pairs[0][2] is None else np.concatenate(
                [y_all[test] for _, _, test in pairs])
            classes = labels[0]
            row["accuracy_before"] = float(np.mean(classes[f0.argmax(1)] == y))
            row["accuracy_after"] = float(np.mean(classes[f1.argmax(2)] == y[None]))
        rows.append(row)
    return pd.DataFrame(rows)


def _method(name):
    return "lrp" if name.startswith("lrp") else name


def _composite(name, default):
    return name.split(":", 1)[1] if name.startswith("lrp:") else default


def _method_options(name, composite, seed):
    """The options of explain that the method ``name`` takes (it refuses the others)."""
    if _method(name) == "lrp":
        return {"composite": _composite(name, composite)}
    return {"seed": seed} if name == "random" else {}

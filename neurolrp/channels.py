"""Channels in the order a reader of the scalp expects: regions, hemispheres, rows.

Channel x time maps group their rows by scalp region and hemisphere; these
functions compute that grouping from the 10-10 names (or, where a name does
not parse, from the positions the relevance carries) and need no plotting
library. :mod:`neurolrp.viz` draws with them; they work on any xarray object
with a ``channel`` dimension.
"""

import re

import numpy as np

from .relevance import POS_COORDS


def scalp_order(rel):
    """Channel order over the whole scalp: front to back, then left to right.

    Parameters
    ----------
    rel : xarray.DataArray | xarray.Dataset
        Anything with a ``channel`` dimension and the positions ``ch_x``,
        ``ch_y`` on it.

    Returns
    -------
    order : array of int
        Indices into ``rel.channel``; the given order where a position is
        unknown.
    """
    x, y = rel[POS_COORDS[0]].values, rel[POS_COORDS[1]].values
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        return np.arange(rel.sizes["channel"])
    rows = np.round(-y / 0.015)  # rows of electrodes about 1.5 cm apart
    return np.lexsort((x, rows))


#: Scalp regions, front to back, in the order the channel x time maps show them.
REGIONS = ("frontal", "central", "temporal", "parietal", "occipital", "other")
HEMISPHERES = ("left", "midline", "right")
#: 10-10 name prefix -> region (FC and CP count as central, FT and TP as temporal,
#: PO and I as occipital).
_PREFIX_REGION = {"FP": "frontal", "AF": "frontal", "F": "frontal", "FC": "central",
                  "C": "central", "CP": "central", "FT": "temporal", "T": "temporal",
                  "TP": "temporal", "P": "parietal", "PO": "occipital", "O": "occipital",
                  "I": "occipital"}
_ROWS = ("FP", "AF", "F", "FT", "FC", "T", "C", "TP", "CP", "P", "PO", "O", "I")
_NAME_RE = re.compile(r"^(FP|AF|FT|FC|TP|CP|PO|F|T|C|P|O|I)(Z|\d+)$", re.IGNORECASE)
#: Channels named on the maps when not all are (the 10-20 system's, old and new names).
LANDMARKS = ("Fp1", "Fpz", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "T3", "C3", "Cz", "C4",
             "T8", "T4", "P7", "T5", "P3", "Pz", "P4", "P8", "T6", "O1", "Oz", "O2")


def channel_regions(rel):
    """The scalp region and hemisphere of every channel.

    From the 10-10 name where it parses (``Fp``, ``AF``, ``F``: frontal;
    ``FC``, ``C``, ``CP``: central; ``FT``, ``T``, ``TP``: temporal; ``P``:
    parietal; ``PO``, ``O``, ``I``: occipital; odd numbers left, even right,
    ``z`` midline), otherwise from the channel's position (approximate),
    otherwise ``"other"``.

    Parameters
    ----------
    rel : xarray.DataArray | xarray.Dataset
        Anything with a ``channel`` dimension (positions ``ch_x``, ``ch_y``,
        ``ch_z`` used when a name does not parse).

    Returns
    -------
    regions : pandas.DataFrame
        Indexed by channel name, columns ``region`` and ``hemisphere``.
    """
    import pandas as pd

    names = [str(c) for c in rel.channel.values]
    pos = (np.column_stack([rel[c].values for c in POS_COORDS])
           if all(c in rel.coords for c in POS_COORDS) else np.full((len(names), 3), np.nan))
    ok = np.isfinite(pos).all(axis=1)
    unit = np.full_like(pos, np.nan)
    if ok.sum() >= 3:
        centred = pos[ok] - pos[ok].mean(axis=0)
        unit[ok] = centred / np.linalg.norm(centred, axis=1, keepdims=True)
    rows = []
    for name, u in zip(names, unit):
        m = _NAME_RE.match(name)
        if m:
            region = _PREFIX_REGION[m.group(1).upper()]
            num = m.group(2)
            hemi = "midline" if num.upper() == "Z" else ("left" if int(num) % 2 else "right")
        elif np.isfinite(u).all():
            # unit vectors from the electrodes' centroid; limits fitted to the 10-10
            # layout (61 of its 64 channels agree with their names; FC1, FCz and FC2
            # come out frontal)
            x, y, z = u
            hemi = "left" if x < -0.1 else ("right" if x > 0.1 else "midline")
            if z < -0.3 and abs(y) < 0.4 and abs(x) > 0.6:
                region = "temporal"
            elif y > 0.53:
                region = "frontal"
            elif y < -0.78:
                region = "occipital"
            elif y < -0.45:
                region = "parietal"
            else:
                region = "central"
        else:
            region, hemi = "other", "midline"
        rows.append((region, hemi))
    return pd.DataFrame(rows, index=pd.Index(names, name="channel"),
                        columns=["region", "hemisphere"])


def region_order(rel):
    """Channel order for channel x time maps: by region, then hemisphere.

    Regions front to back (:data:`REGIONS`), within each the left
    hemisphere, the midline, then the right; within a block front to back,
    then left to right, so each block reads like the scalp.

    Parameters
    ----------
    rel : xarray.DataArray | xarray.Dataset
        Anything with a ``channel`` dimension.

    Returns
    -------
    order : array of int
        Indices into ``rel.channel``.
    blocks : list of (str, str, int, int)
        ``(region, hemisphere, start, stop)`` row spans in the new order.
    """
    reg = channel_regions(rel)
    r = np.array([REGIONS.index(v) for v in reg.region])
    h = np.array([HEMISPHERES.index(v) for v in reg.hemisphere])
    matches = [_NAME_RE.match(str(c)) for c in rel.channel.values]
    x = rel[POS_COORDS[0]].values if POS_COORDS[0] in rel.coords else None
    if all(matches) and x is not None and np.isfinite(x).all():
        # the 10-10 row from the name (rows curve over the head), then left to right
        row = np.array([_ROWS.index(m.group(1).upper()) for m in matches])
        within = np.lexsort((x, row))
    else:
        within = scalp_order(rel)
    rank = np.empty(len(r), int)
    rank[within] = np.arange(len(r))
    order = np.lexsort((rank, h, r))
    blocks, start = [], 0
    for k in range(1, len(order) + 1):
        if k == len(order) or (r[order[k]], h[order[k]]) != (r[order[start]], h[order[start]]):
            blocks.append((REGIONS[r[order[start]]], HEMISPHERES[h[order[start]]], start, k))
            start = k
    return order, blocks


__all__ = ["HEMISPHERES", "LANDMARKS", "REGIONS", "channel_regions", "region_order",
           "scalp_order"]

"""Where in the frame a keyframe's look is: a left-right position per matched keyframe.

The model's 7×7 feature map keeps the frame's layout. Each of its 7 columns, pooled
over its rows and put in the matching space like a whole frame, is a description of one
vertical strip of the picture. For a keyframe that the frame calls up, the strips that
look most like it tell where it is: a cow in the left half of the frame is nearest to
the cow keyframe in the left columns. The synthesizer pans that keyframe's grains there,
so a wearer hears the cow on the left.

``position = Σ_c x_c · w_c / Σ_c w_c`` with ``x_c`` the column centres from −1 (left
edge) to +1 (right edge) and ``w_c = exp(−(d_c − min d) / COLUMN_TAU)``: columns about
as near as the nearest share the weight, so a view filled by one kind of place (every
column alike) sits in the centre, and an object spread over several strips sits at
their middle. Measured on the demo photos side by side (cow | waterfall, the model's
centre square half of each): the cow's keyframe at −0.59, the waterfall's at +0.85;
swapped, the signs swap (tests/test_direction.py). The other keyframes of the same
scene (or segment) then take the place of its most clearly seen one
(:func:`share_by_group`): a waterfall is heard where it is in the frame whichever of its
views the grains come from.
"""

from __future__ import annotations

import numpy as np

from appliance.corpus.features import FeatureSpace

#: Softness of the column weights, in matching-space distance (0 … 2). The distance
#: from a strip to the keyframe of what it shows is 0.5–0.6 here, to other keyframes
#: 0.7–1.2; 0.05 lets the strips within a few hundredths of the nearest count too.
COLUMN_TAU = 0.05
#: Only this many most probable keyframes get a position (the rest stay centred): the
#: grains come almost only from them, and the cost stays O(TOP × W × D).
TOP = 16


def column_vectors(features: FeatureSpace, feature_map: np.ndarray) -> np.ndarray:
    """(W, D) float32: each column of an (H, W, D) feature map, in the matching space."""
    fm = np.asarray(feature_map, dtype=np.float32)
    if fm.ndim != 3:
        raise ValueError(f"feature map must be (H, W, D), not {fm.shape}")
    columns = np.moveaxis(fm, 1, 0)  # (W, H, D)
    pooled = np.stack([features.pool(col.mean(axis=0), col[None]) for col in columns])
    return features.finish(pooled)


def positions(columns: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Left-right position (−1 … +1) of each keyframe row (N, D) among the columns (W, D)."""
    return place(columns, rows)[0]


def place(columns: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`positions`, and each row's distance to its nearest column (how clearly its
    look is somewhere in the frame)."""
    w = columns.shape[0]
    x = np.linspace(-1.0, 1.0, w) if w > 1 else np.zeros(1)
    diff = columns[:, None, :].astype(np.float64) - rows[None, :, :].astype(np.float64)
    d = np.sqrt(np.einsum("wnd,wnd->wn", diff, diff))  # (W, N)
    nearest = d.min(axis=0)
    weights = np.exp(-(d - nearest) / COLUMN_TAU)
    return (x @ weights) / weights.sum(axis=0), nearest


def share_by_group(x: np.ndarray, nearest: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Every keyframe of a group (a scene's segment, or its unlabelled part) sounds where
    the group's most clearly seen keyframe is: when the frame calls up a waterfall, all the
    waterfall's views are heard where the waterfall is, not only the one it resembles
    most (the others, resembling no strip in particular, would sit in the centre)."""
    out = np.array(x, dtype=np.float64)
    for g in np.unique(groups):
        sel = np.flatnonzero(groups == g)
        out[sel] = x[sel[np.argmin(nearest[sel])]]
    return out

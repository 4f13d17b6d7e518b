"""Vision that rests: decide, for each camera frame, whether it is worth an embedding.

On a Pi the ResNet50 is nearly the whole cost of the box (20–200 ms a frame), and a
wearer sitting on a bench sees the same bench for minutes. :class:`ChangeDetector`
looks at a tiny grey copy of each frame and lets only these through to the model:

* the **first** frame, and the first after :meth:`ChangeDetector.invalidate` (a new
  corpus needs a new p, a reconnected camera may look elsewhere) or after resting;
* a **change**: the thumbnail differs from the last *embedded* frame's by at least
  ``change_threshold`` (so a slow pan or a dimming light, each step too small to see,
  adds up against that reference until it counts);
* while **moving**: after a change, every frame that still differs from the last
  embedded one by ``settle_threshold`` or more (hysteresis: a head turn is followed
  frame by frame until the view settles, and the settled view is what p ends on);
* a **refresh**: nothing counted as a change for ``refresh_s`` seconds (whatever the
  measure cannot see is still caught);
* never while **resting** (muted or asleep: :attr:`ChangeDetector.resting`).

The measure, and why: the centre square of the frame (what the model sees; the
embedder crops the same square), in grey (ITU-R BT.601 luma), area-averaged to
``side × side`` cells (8 × 8 by default: 28 × 28 camera pixels per cell at 224 × 224),
minus its own mean; the figure is the mean absolute difference of two such
thumbnails, in 8-bit grey levels (0–255). Area averaging cuts sensor noise by the
square root of the pixels per cell: Gaussian noise of σ = 8 levels per colour channel
(a small sensor indoors) leaves 0.3 levels between two frames of a still view (σ = 24,
a dim room: under 1), far under the default threshold of 8, while the demo photos
measure 15–100 from one another (median 40). Coarse cells are deliberate: a worn
camera never holds quite still, and a jitter of 1–2 % of the view (a degree of head
movement) measures 2–5 here, under the threshold, where 24 × 24 cells measured 7–12;
the model's p does not move for such a jitter either. A pan of 5 % measures about 13
and is embedded. Removing the mean ignores what auto-exposure and mains flicker do
to the whole frame's brightness from one frame to the next; a slow change of light,
or of colour alone, is left to the refresh (or to the measure, once the contrast has
changed enough). It costs about 1 ms here (PIL does the grey conversion and the box
filter in C), against ~12 ms for an embedding here and 20–200 ms on a Pi.

Threads: :meth:`ChangeDetector.decide` runs on the vision thread; :attr:`resting` and
:meth:`invalidate` may be set from the control thread (one attribute store each).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
from PIL import Image

from appliance.errors import ImageError

#: Default thumbnail side (cells): 8 × 8 grey levels compared per frame.
THUMBNAIL_SIDE = 8


class Decision(enum.Enum):
    """What :meth:`ChangeDetector.decide` says about one frame, and why."""

    FIRST = "first"  # embed: nothing to compare with (start, new corpus, camera back, awake)
    CHANGE = "change"  # embed: differs from the last embedded frame by change_threshold
    MOVING = "moving"  # embed: still differs by settle_threshold after a change
    REFRESH = "refresh"  # embed: refresh_s without a change
    SAME = "same"  # skip: the view has not changed; keep p
    RESTING = "resting"  # skip: muted or asleep; nothing is embedded

    @property
    def embed(self) -> bool:
        """True when the frame should go through the model."""
        return self in _EMBED


_EMBED = frozenset({Decision.FIRST, Decision.CHANGE, Decision.MOVING, Decision.REFRESH})


@dataclass(frozen=True)
class FrameCounts:
    """Frames the detector has seen and how many it let through to the model."""

    seen: int = 0
    embedded: int = 0

    @property
    def share(self) -> float:
        """Fraction of the frames seen that were embedded (0 before the first frame)."""
        return self.embedded / self.seen if self.seen else 0.0

    def since(self, earlier: FrameCounts) -> FrameCounts:
        """The counts between ``earlier`` and these (e.g. over the last log interval)."""
        return FrameCounts(self.seen - earlier.seen, self.embedded - earlier.embedded)

    def describe(self) -> str:
        """For the log and the live view: ``"12 of 240 frames embedded (5 %)"``."""
        return f"{self.embedded} of {self.seen} frames embedded ({100 * self.share:.0f} %)"


def thumbnail(frame: np.ndarray, side: int = THUMBNAIL_SIDE) -> np.ndarray:
    """The measure's view of ``frame`` (H×W×3 uint8 RGB): its centre square in grey,
    area-averaged to ``side × side``, minus its mean; float32 grey levels."""
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ImageError(f"expected an H×W×3 RGB frame, got shape {frame.shape}")
    h, w = frame.shape[:2]
    square = min(h, w)
    if square < side:
        raise ImageError(f"frame of {w}×{h} pixels is smaller than the {side}×{side} thumbnail")
    top, left = (h - square) // 2, (w - square) // 2
    crop = np.ascontiguousarray(frame[top : top + square, left : left + square], dtype=np.uint8)
    grey = Image.fromarray(crop).convert("L").resize((side, side), Image.BOX)
    thumb = np.asarray(grey, dtype=np.float32)
    return thumb - thumb.mean()


def difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two thumbnails, in grey levels (0–255)."""
    return float(np.mean(np.abs(a - b)))


class ChangeDetector:
    """Decides per frame whether to embed; see the module docstring.

    ``change_threshold`` and ``settle_threshold`` are in grey levels (mean absolute
    difference of the mean-free thumbnails, 0–255), ``settle_threshold`` at most
    ``change_threshold``; ``refresh_s`` in seconds; ``side`` in thumbnail cells.
    """

    def __init__(
        self,
        change_threshold: float = 8.0,
        settle_threshold: float = 4.0,
        refresh_s: float = 12.0,
        side: int = THUMBNAIL_SIDE,
    ) -> None:
        if not 0.0 < settle_threshold <= change_threshold:
            raise ValueError(
                f"settle_threshold must be in (0, change_threshold={change_threshold}], "
                f"not {settle_threshold!r}"
            )
        if not refresh_s > 0.0:
            raise ValueError(f"refresh_s must be positive, not {refresh_s!r}")
        self.change_threshold = float(change_threshold)
        self.settle_threshold = float(settle_threshold)
        self.refresh_s = float(refresh_s)
        self.side = int(side)
        #: Set while muted or asleep (by the control thread): no frame is embedded, and
        #: the first frame after it is (the view may have changed meanwhile).
        self.resting = False
        self._reference: np.ndarray | None = None
        self._embedded_at = 0.0
        self._moving = False
        self._invalid = True
        self._seen = 0
        self._embedded = 0
        #: The last measured difference to the reference, grey levels (for the live view).
        self.last_difference = 0.0

    @property
    def counts(self) -> FrameCounts:
        """Frames seen and embedded since the detector was made."""
        return FrameCounts(self._seen, self._embedded)

    def invalidate(self) -> None:
        """Make the next (non-resting) frame an embedding: call on a corpus switch (p must
        be computed for the new corpus) and when the camera is opened again."""
        self._invalid = True

    def decide(self, frame: np.ndarray, now_s: float) -> Decision:
        """Whether to embed ``frame``, seen at ``now_s`` (monotonic seconds). An embedding
        decision makes ``frame`` the new reference: call once per frame, and embed
        when ``decision.embed``."""
        self._seen += 1
        if self.resting:
            self._invalid = True
            return Decision.RESTING
        thumb = thumbnail(frame, self.side)
        if self._invalid or self._reference is None:
            decision = Decision.FIRST
            self.last_difference = 0.0
        else:
            d = difference(thumb, self._reference)
            self.last_difference = d
            if d >= self.change_threshold:
                decision = Decision.CHANGE
            elif self._moving and d >= self.settle_threshold:
                decision = Decision.MOVING
            elif now_s - self._embedded_at >= self.refresh_s:
                decision = Decision.REFRESH
            else:
                self._moving = False
                return Decision.SAME
        self._moving = decision in (Decision.CHANGE, Decision.MOVING)
        self._invalid = False
        self._reference = thumb
        self._embedded_at = now_s
        self._embedded += 1
        return decision

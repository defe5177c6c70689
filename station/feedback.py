"""Plain data passed between the core and the kiosk: live meters, per-rep results, home info.

These types are the seams between the parts of the station: the metrics produce
:class:`LiveFeedback` and :class:`RepStats`; the live tracking hands what it measured at the
session's edges to the loop as :class:`Measured` (a measured rep, a calibration, a pattern's
sentence), beside the engine's outputs, never inside them; the record store keeps them and
answers with :class:`HomeInfo`, the kiosk only draws them. Nothing here does I/O.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

SIDES: tuple[str, str] = ("left", "right")  # the subject's own sides


class Side(enum.StrEnum):
    """A side of the patient's face, anatomical (the patient's own left is ``LEFT``).

    The settings and prescription validators parse it once; below them every affected side is
    a ``Side``, never a bare string and never a default. Its value is the word on disk
    ("left"/"right"), so records, CSV files and prescriptions hold the plain string.

    >>> Side("left").other, Side.RIGHT.row, f"{Side.LEFT}"
    (<Side.RIGHT: 'right'>, 1, 'left')
    """

    LEFT = "left"
    RIGHT = "right"

    @property
    def other(self) -> Side:
        """The side that is not this one."""
        return Side.RIGHT if self is Side.LEFT else Side.LEFT

    @property
    def row(self) -> int:
        """This side's row in (2, N) per-side arrays (the order of :data:`SIDES`)."""
        return SIDES.index(self.value)

# region -> signed millimetres from the neutral baseline, per side
Readings = dict[str, dict[str, float]]


class TrackingStatus(enum.Enum):
    """The one vocabulary of what face tracking is doing (tracker, metrics and meters)."""

    OFF = "off"  # tracking disabled
    STARTING = "starting"  # camera and model starting
    NO_CAMERA = "no_camera"
    NO_MODEL = "no_model"
    NO_FACE = "no_face"
    CALIBRATING = "calibrating"
    TURNED = "turned"  # head turned too far to measure
    TRACKING = "tracking"


class Observation(enum.Enum):
    """What the tracking saw that matters to the session; the kiosk turns each into an engine event."""

    FACE_FOUND = "face_found"
    FACE_LOST = "face_lost"
    CALIBRATED = "calibrated"
    CALIBRATION_UNAVAILABLE = "calibration_unavailable"  # no camera or model: guide by time


@dataclass(frozen=True)
class RegionMeter:
    """One meter on screen: the target region or a region that should stay quiet."""

    region: str  # one of station.practice.plan.REGIONS
    role: str  # "target" | "quiet"
    level: float  # 0..1, how full the meter is drawn
    mm: float  # movement from neutral, absolute, affected side
    warning: bool = False  # a quiet region moved beyond its noise floor
    # Target meter only (practice quality): the gentle zone as bar levels (0..1; to == 0 means
    # no zone), past_gentle when the movement is bigger than the zone (the bar then stays at
    # the zone's end: bigger never fills further), and a calm hint ("smaller", "slower").
    gentle_from: float = 0.0
    gentle_to: float = 0.0
    past_gentle: bool = False
    hint: str = ""


@dataclass(frozen=True)
class LiveFeedback:
    """What the tracker says right now, for the meters.

    ``message`` is one short plain sentence for the patient (may be empty).
    """

    status: TrackingStatus
    meters: tuple[RegionMeter, ...] = ()
    message: str = ""
    scoring: bool = False  # frames are being scored into the current rep
    release_note: str = ""  # in a release break: the face did not let go in the last reps


@dataclass(frozen=True)
class RepStats:
    """What one rep measured on the affected side (numbers only)."""

    pattern_id: str
    pattern_index: int
    rep: int
    target_region: str
    target_mm: float  # peak movement of the target region, affected side
    target_other_side_mm: float  # same region, unaffected side
    target_pct_of_other: float | None  # affected / unaffected * 100, None when unmeasurable
    quiet_mm: dict[str, float]  # peak movement per quiet region, affected side
    quiet_floor_mm: dict[str, float]  # each quiet region's noise floor from calibration
    coactivation: float | None  # quiet / (quiet + target); None without enough data
    face_share: float  # share of frames during the rep with a face
    frames: int
    frames_gated: int  # frames not scored (turned head, no face)
    eye_ratio: float | None = None  # affected / unaffected palpebral fissure during the rep
    series: tuple[tuple[float, Readings], ...] = ()  # ~10 Hz (t from rep start, readings)
    # Practice quality (station.tracking.quality): None = could not be judged.
    slow: bool | None = None
    small: bool | None = None
    quiet: bool | None = None
    released: bool | None = None
    t80_share: float | None = None  # time to 80 % of the peak, share of the move phase
    target_peak_mm: float | None = None  # peak in the pattern's own direction
    quiet_excess_mm: float | None = None  # largest quiet excess over threshold, blinks excluded
    residual_mm: float | None = None  # largest reading left at the end of release and rest
    gentle_max_mm: float | None = None  # the gentle range this rep was judged against
    blinks: int = 0

    @property
    def quiet_moved(self) -> bool:
        """True when any quiet region moved beyond its noise floor (blinks excluded)."""
        if self.quiet is not None:
            return not self.quiet
        return any(mm > self.quiet_floor_mm.get(r, 0.0) for r, mm in self.quiet_mm.items())

    @property
    def flags(self) -> dict[str, bool | None]:
        """The four qualities by name."""
        return {"slow": self.slow, "small": self.small, "quiet": self.quiet,
                "released": self.released}


@dataclass(frozen=True)
class Calibration:
    """A session's neutral baseline as numbers: the mm scale and each region's noise floor."""

    mm_per_px: float | None
    floors_mm: dict[str, float]  # "side.region" -> mm
    frames: int = 0


@dataclass(frozen=True)
class Measured:
    """What the tracking measured at one batch of the engine's outputs, passed alongside them.

    ``reps``: one :class:`RepStats` per ``RepDone`` it measured (keyed by pattern index and
    rep); ``calibration``: the baseline taken in a settle that ended calibrated; ``results``:
    the sentence for each ``PatternDone`` it measured.
    """

    reps: tuple[RepStats, ...] = ()
    calibration: Calibration | None = None
    results: tuple[PatternResult, ...] = ()

    def rep(self, pattern_index: int, rep: int) -> RepStats | None:
        """The numbers of rep ``rep`` of pattern ``pattern_index``, if measured."""
        return next((r for r in self.reps if (r.pattern_index, r.rep) == (pattern_index, rep)), None)

    def __add__(self, more: Measured) -> Measured:
        return Measured(self.reps + more.reps, more.calibration or self.calibration,
                        self.results + more.results)


NOTHING_MEASURED = Measured()


@dataclass(frozen=True)
class HomeInfo:
    """What the home screen shows besides the start prompt."""

    sessions_today: int = 0
    sessions_week: int = 0
    trend_sentences: tuple[str, ...] = ()  # one plain sentence per prescribed pattern
    therapist_message: str = ""
    reminder: str = ""  # a gentle prompt when a prescribed time has come
    checkin: str = ""  # the weekly check-in: "due", "done", or "" (none prescribed)


@dataclass(frozen=True)
class Notice:
    """A calm banner: something the patient should know (camera, storage, stick...)."""

    text: str
    level: str = "info"  # "info" | "attention"
    key: str = ""  # to replace or clear a notice of the same kind


@dataclass(frozen=True)
class PatternResult:
    """One plain sentence after a pattern, e.g. 'Your eye stayed quiet in 4 of 5 smiles.'"""

    pattern_index: int
    sentence: str
    reps_quiet: int = 0
    reps_scored: int = 0
    extra: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ClinicianInfo:
    """What the clinician info screen lists (opened by a long hold at home), as ready words."""

    unit_id: str = ""
    clinic_key_id: str = ""  # the public fingerprint the desk's Register form asks for
    version: str = ""
    model_sha256: str = ""  # empty: no model installed
    camera: str = ""
    free_storage: str = ""
    prescription: str = ""
    last_export: str = ""
    extra: tuple[tuple[str, str], ...] = ()  # more (label, value) rows

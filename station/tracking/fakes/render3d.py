"""Real 3-D head turns of a face photo: a piecewise-affine warp over the face mesh (test media).

A flat image warp (shift, shear) of a photo is not a head turn: a real turn moves the nose
more than the cheeks and the forehead more than the ears, which is exactly what a 2-D
registration gets wrong. So the face is turned in 3-D:

1. the 478 landmarks with z (pixel scale, smaller z = nearer the camera) are found once on
   the neutral photo; a ring of anchor points around the face and the image corners are added,
   and the whole set is triangulated (Delaunay, :class:`cv2.Subdiv2D`);
2. the landmarks are rotated (yaw about the vertical axis, then pitch about the horizontal
   one) about a head centre behind the face (midline, nose height, at the depth of the face's
   outline: about where the neck's axis is) and projected orthographically; anchors stay put,
   so the background stays still and the hair/neck band between face and ring stretches;
3. every destination pixel is mapped back into its source triangle by that triangle's affine
   map (one triangle-index raster, one ``cv2.remap``), cached per quantised pose.

Expressions (the smile, each eye's lid gap) are warped on the neutral photo first
(:mod:`station.tracking.fakes.patient`), then turned with the head.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np

from station.tracking import landmarks as lm
from station.tracking.fakes.patient import combine, eye_field, mouth_field, warp

POSE_STEP_RAD = 0.0025  # poses are rendered at this resolution (cached)
SMILE_LEVELS = 16  # smile amounts at 1/16 steps
EYE_LEVELS = 10  # each eye's closure at 1/10 steps
RING_SCALE = 1.35  # anchor ring around the face outline (times its radius from the centre)
RING_POINTS = 24
CACHE_FRAMES = 400  # finished frames kept (about 0.5-1.2 MB each)
SMILE_SHARE_OF_IOD = 0.08  # the simulated patient's full smile


@dataclass(frozen=True)
class Pose3:
    """A head rotation relative to the photo, radians (yaw: turn, pitch: nod)."""

    yaw: float = 0.0
    pitch: float = 0.0


def _triangles(points: np.ndarray, w: int, h: int) -> np.ndarray:
    """Delaunay triangles (k, 3) of point indices."""
    sub = cv2.Subdiv2D((-2, -2, w + 4, h + 4))
    index = {}
    for i, (x, y) in enumerate(points):
        key = (float(x), float(y))
        if key in index:
            continue
        index[key] = i
        sub.insert(key)
    tris = []
    for x1, y1, x2, y2, x3, y3 in sub.getTriangleList():
        ids = [index.get((float(a), float(b))) for a, b in ((x1, y1), (x2, y2), (x3, y3))]
        if None not in ids:
            tris.append(ids)
    return np.asarray(tris, dtype=np.int64)


def _rotation(pose: Pose3) -> np.ndarray:
    cy, sy = np.cos(pose.yaw), np.sin(pose.yaw)
    cp, sp = np.cos(pose.pitch), np.sin(pose.pitch)
    ry = np.array([[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, cp, -sp], [0.0, sp, cp]])
    rot: np.ndarray = ry @ rx
    return rot


class Head3D:
    """One neutral face photo that can smile, narrow each eye and turn its head in 3-D."""

    def __init__(self, image_rgb: np.ndarray, landmarks: np.ndarray) -> None:
        self.image = np.ascontiguousarray(image_rgb)
        self.L0 = np.asarray(landmarks, dtype=np.float64)
        if self.L0.shape != (lm.N_LANDMARKS, 3):
            raise ValueError("Head3D needs the 478 landmarks with z")
        h, w = self.image.shape[:2]
        self.size = (w, h)
        iod = float(np.linalg.norm(self.L0[473, :2] - self.L0[468, :2]))
        self.smile_px = SMILE_SHARE_OF_IOD * iod
        mid = self.L0[168, :2]
        eyes = (self.L0[468, :2] + self.L0[473, :2]) / 2
        nose_y = (eyes[1] + self.L0[lm.CHIN_MID, 1]) / 2
        self.centre = np.array([mid[0], nose_y, float(np.percentile(self.L0[:, 2], 95))])
        xy = self.L0[:, :2]
        c = xy.mean(axis=0)
        hull = cv2.convexHull(xy.astype(np.float32)).reshape(-1, 2).astype(np.float64)
        angles = np.linspace(0, 2 * np.pi, RING_POINTS, endpoint=False)
        ring = []
        for a in angles:  # the hull's radius in that direction, times RING_SCALE
            d = np.array([np.cos(a), np.sin(a)])
            r = float(np.max((hull - c) @ d))
            ring.append(c + RING_SCALE * r * d)
        border = [(0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1),
                  ((w - 1) / 2, 0), ((w - 1) / 2, h - 1), (0, (h - 1) / 2), (w - 1, (h - 1) / 2)]
        anchors = np.clip(np.vstack([np.asarray(ring), np.asarray(border, dtype=np.float64)]),
                          [0, 0], [w - 1, h - 1])
        self.anchors = anchors
        self.src = np.vstack([xy, anchors])
        self.tris = _triangles(self.src, w, h)
        self._maps: OrderedDict[tuple[int, int], tuple[np.ndarray, np.ndarray] | None] = OrderedDict()
        self._expr: dict[tuple[int, int, int, int], np.ndarray] = {}
        self._frames: OrderedDict[tuple[int, ...], np.ndarray] = OrderedDict()
        self.gain = Pose3(1.0, 1.0)  # tracker-measured turn per rendered turn (measured_gain)

    # -- geometry ------------------------------------------------------------------------------

    def turned_points(self, pose: Pose3) -> np.ndarray:
        """The 478 landmarks after the head turn, projected (pixels, (478, 2))."""
        p = self.L0 - self.centre
        q: np.ndarray = p @ _rotation(pose).T + self.centre
        return q[:, :2]

    def _map(self, key: tuple[int, int]) -> tuple[np.ndarray, np.ndarray] | None:
        if key in self._maps:
            self._maps.move_to_end(key)
            return self._maps[key]
        if key == (0, 0):
            return None
        pose = Pose3(key[0] * POSE_STEP_RAD, key[1] * POSE_STEP_RAD)
        dst = np.vstack([self.turned_points(pose), self.anchors])
        w, h = self.size
        ids = np.full((h, w), -1, dtype=np.int32)
        for k, tri in enumerate(self.tris):
            cv2.fillConvexPoly(ids, np.round(dst[tri] * 16).astype(np.int32), int(k), shift=4)
        for _ in range(2):  # rounding leaves hairline gaps between triangles: fill from a neighbour
            gaps = ids < 0
            if not gaps.any():
                break
            grown = cv2.dilate(ids.astype(np.float32), np.ones((3, 3), np.uint8)).astype(np.int32)
            ids[gaps] = grown[gaps]
        # per triangle: the affine map from destination to source, solved in one go
        d = dst[self.tris]  # (k, 3, 2)
        s = self.src[self.tris]
        a = np.concatenate([d, np.ones((len(d), 3, 1))], axis=2)  # (k, 3, 3)
        try:
            m = np.linalg.solve(a, s)  # (k, 3, 2): [x y 1] @ m = source
        except np.linalg.LinAlgError:
            m = np.stack([np.linalg.lstsq(ai, si, rcond=None)[0] for ai, si in zip(a, s, strict=True)])
        gx, gy = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
        inside = ids >= 0
        tri_at = np.where(inside, ids, 0)
        mk = m[tri_at]  # (h, w, 3, 2)
        mx = gx * mk[..., 0, 0] + gy * mk[..., 1, 0] + mk[..., 2, 0]
        my = gx * mk[..., 0, 1] + gy * mk[..., 1, 1] + mk[..., 2, 1]
        mx = np.where(inside, mx, gx).astype(np.float32)
        my = np.where(inside, my, gy).astype(np.float32)
        self._maps[key] = (mx, my)
        while len(self._maps) > 64:
            self._maps.popitem(last=False)
        return self._maps[key]

    # -- expressions ---------------------------------------------------------------------------

    def _expression(self, key: tuple[int, int, int], side: str) -> np.ndarray:
        """The neutral photo with the smile on ``side`` and each eye's closure (cached)."""
        if key == (0, 0, 0):
            return self.image
        cache_key = (*key, 0 if side == "left" else 1)
        if cache_key not in self._expr:
            smile, eye_l, eye_r = key[0] / SMILE_LEVELS, key[1] / EYE_LEVELS, key[2] / EYE_LEVELS
            fields = []
            if smile:
                fields.append(mouth_field(self.L0[:, :2], side, smile * self.smile_px))
            if eye_l:
                fields.append(eye_field(self.L0[:, :2], "left", eye_l))
            if eye_r:
                fields.append(eye_field(self.L0[:, :2], "right", eye_r))
            self._expr[cache_key] = warp(self.image, combine(*fields))
        return self._expr[cache_key]

    def frame(self, side: str, smile: float, eye_left: float, eye_right: float,
              pose: Pose3 = Pose3()) -> np.ndarray:  # noqa: B008
        """The face with a smile (amount of the full smile) on ``side``, each eye closed by a
        fraction of its lid gap, and the head turned by ``pose`` as the tracker would measure
        it (divided by :attr:`gain`; RGB, cached)."""
        ekey = (int(round(smile * SMILE_LEVELS)), int(round(eye_left * EYE_LEVELS)),
                int(round(eye_right * EYE_LEVELS)))
        pkey = (int(round(pose.yaw / self.gain.yaw / POSE_STEP_RAD)),
                int(round(pose.pitch / self.gain.pitch / POSE_STEP_RAD)))
        fkey = (*ekey, *pkey, 0 if side == "left" else 1)
        if fkey in self._frames:
            self._frames.move_to_end(fkey)
            return self._frames[fkey]
        img = self._expression(ekey, side)
        maps = self._map(pkey)
        if maps is not None:
            img = cv2.remap(img, maps[0], maps[1], interpolation=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REFLECT)
        self._frames[fkey] = img
        while len(self._frames) > CACHE_FRAMES:
            self._frames.popitem(last=False)
        return img


# -- the faces -------------------------------------------------------------------------------

@dataclass(frozen=True)
class FaceSource:
    """A near-neutral, frontal real face: a pinned sample, optionally cropped or a video frame."""

    name: str
    sample: str  # a name in station.tracking.fakes.samples.SAMPLES
    crop: tuple[int, int, int, int] | None = None  # x, y, w, h
    video_frame: int | None = None  # for a video: which frame


# Checked: one face found, smile and blink blendshapes low (<= 0.3), landmarks settle.
FACES: tuple[FaceSource, ...] = (
    FaceSource("f13", "images/15-f13-anc-ph.jpg"),  # the demo face: frontal, lips pressed
    FaceSource("portrait", "images/biden.jpg", crop=(265, 78, 640, 640)),  # slightly turned
    FaceSource("door", "video/single_face.mp4", video_frame=0),  # the neutral first frame
)


def face_image(source: FaceSource) -> np.ndarray:
    """The face's RGB image (fetched by pinned hash when there is no local media folder)."""
    from station.tracking.fakes.samples import sample_path

    path = sample_path(source.sample)
    if source.video_frame is not None:
        cap = cv2.VideoCapture(str(path))
        try:
            bgr = None
            for _ in range(source.video_frame + 1):
                ok, bgr = cap.read()
                if not ok:
                    bgr = None
                    break
        finally:
            cap.release()
    else:
        bgr = cv2.imread(str(path))
    if bgr is None:
        raise ValueError(f"cannot read the face {source.name} from {source.sample}")
    if source.crop is not None:
        x, y, w, h = source.crop
        bgr = bgr[y:y + h, x:x + w]
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def neutral_landmarks(model_path: object, rgb: np.ndarray) -> np.ndarray:
    """The 478 landmarks with z of a still photo (VIDEO mode, after ~10 frames of settling)."""
    from pathlib import Path

    from station.tracking.tracker import Landmarker

    sample = None
    with Landmarker(Path(str(model_path))) as lmk:
        for i in range(12):
            sample = lmk.detect(rgb, i * 0.1)
    if sample is None or sample.landmarks is None:
        raise ValueError("no face found in the face photo")
    return np.asarray(sample.landmarks, dtype=np.float64)


def measured_gain(model_path: object, head: Head3D, probe_rad: float = 0.1) -> Pose3:
    """How much of a rendered turn and nod the tracker reports (its pose change / ours).

    The tracker's pose comes from fitting its canonical face, not from these landmarks, and
    reports 0.55-0.9 of the mesh's rotation on the pinned faces; dividing by this gain makes
    a script's "0.03 rad" a turn the tracker itself measures as 0.03 rad.
    """
    from pathlib import Path

    from station.tracking.tracker import Landmarker

    def pose_of(img: np.ndarray) -> tuple[float, float]:
        with Landmarker(Path(str(model_path))) as lmk:
            for i in range(12):
                s = lmk.detect(img, i * 0.1)
        if s.pose is None:
            raise ValueError("the tracker gave no pose for the face photo")
        return s.pose.yaw, s.pose.pitch

    y0, p0 = pose_of(head.image)
    y1, _ = pose_of(head.frame("left", 0, 0, 0, Pose3(probe_rad, 0.0)))
    y2, _ = pose_of(head.frame("left", 0, 0, 0, Pose3(-probe_rad, 0.0)))
    _, p1 = pose_of(head.frame("left", 0, 0, 0, Pose3(0.0, probe_rad)))
    gy = abs(y1 - y2) / (2 * probe_rad)
    gp = abs(p1 - p0) / probe_rad
    return Pose3(float(np.clip(gy, 0.3, 1.5)), float(np.clip(gp, 0.3, 1.5)))


def load_head(model_path: object, source: FaceSource) -> Head3D:
    """A :class:`Head3D` of one of :data:`FACES`, with the tracker's gain measured."""
    rgb = face_image(source)
    head = Head3D(rgb, neutral_landmarks(model_path, rgb))
    head.gain = measured_gain(model_path, head)
    return head

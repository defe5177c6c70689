"""``station bench`` smoke test: the table runs on a few real frames and gives numbers.

Speeds are not asserted (targets live in the bench's table, not in timed tests).
"""

from __future__ import annotations

import math
import sys

import pytest

from station.devtools.bench import (
    Row,
    bench_table,
    child_peak_rss,
    face_samples,
    format_table,
    metrics_cost,
)
from station.feedback import Side

pytestmark = pytest.mark.slow  # the fast lane (-m "not slow") leaves this module out


def _finite(row: Row) -> bool:
    return row.number is not None and math.isfinite(row.number) and row.number > 0


@pytest.mark.tracking
def test_bench_table_runs_on_a_few_frames(media, model_file):
    rows = bench_table(media("video/single_face.mp4"), model_file, quick=True, max_frames=8,
                       latency_s=0.5, child_rss=False, pairs=1, metrics_frames=20,
                       kiosk_s=(4.0, 1.0))
    by_name = {r.name: r for r in rows}
    for name in ("bare detect_for_video", "Landmarker + TrackerThread", "tracker vs bare",
                 "capture-to-sample latency median", "capture-to-sample latency p95",
                 "metrics per frame median", "metrics per frame p95",
                 "kiosk step, paced median / p95", "kiosk step, unpaced median / p95",
                 "peak RSS, this process"):
        assert name in by_name, name
        assert _finite(by_name[name]), (name, by_name[name])
    assert by_name["frames"].number == 8
    assert by_name["capture-to-sample latency p95"].number >= \
        by_name["capture-to-sample latency median"].number
    assert by_name["metrics per frame p95"].number >= by_name["metrics per frame median"].number
    # The kiosk ran the real loop with tracking: frames were drawn while samples arrived.
    kiosk = by_name["kiosk fps while tracking"]
    assert _finite(kiosk), kiosk
    assert "SDL dummy display" in kiosk.note
    # Meters need a calibrated face (seconds of video): in 2 s the rows exist, maybe empty.
    for name in ("capture-to-meter latency median", "capture-to-meter latency p95"):
        assert name in by_name
    table = format_table(rows)
    assert "tracker vs bare" in table and ">= 90 %" in table and "<= 0.5 ms" in table


@pytest.mark.tracking
def test_metrics_cost_times_the_measuring_path_on_real_samples(media, model_file):
    samples = face_samples(media("video/single_face.mp4"), model_file, limit=12)
    assert len(samples) == 12 and all(s.face for s in samples)
    mc = metrics_cost(samples, 30.0, "mouth_corner", ("eye",), Side.LEFT, min_frames=30)
    assert mc["frames"] == 30
    assert 0 < mc["median_ms"] <= mc["p95_ms"] <= mc["max_ms"]
    # 12 frames hold no still stretch of 24: the baseline comes from the face frames.
    assert mc["fallback"] == 1.0


def test_child_peak_rss_sees_the_childs_own_peak():
    # A fresh child that touches 120 MB, sleeps a little so the poller sees it, then exits.
    code = "b = bytearray(120 * 2**20); import time; time.sleep(0.3)"
    rss, rc, _ = child_peak_rss([sys.executable, "-c", code], timeout=60)
    assert rc == 0
    assert 120 <= rss < 400

"""``station bench`` smoke test: the table runs on a few real frames and gives numbers."""

from __future__ import annotations

import math

import pytest

from station.bench import INTEGRATION_SLOTS, Row, bench_table, format_table


@pytest.mark.tracking
def test_bench_table_runs_on_a_few_frames(media, model_file):
    def extra(ctx):
        return [Row("metrics ms/frame", "0.1 ms", number=0.1 * len(ctx.frames) / 8)]

    rows = bench_table(media("video/single_face.mp4"), model_file, quick=True, max_frames=8,
                       latency_s=0.5, child_rss=False, extra=[extra])
    by_name = {r.name: r for r in rows}
    for name in ("bare detect_for_video", "Landmarker + TrackerThread", "tracker vs bare",
                 "capture-to-sample latency median", "capture-to-sample latency p95",
                 "peak RSS, this process"):
        value = by_name[name].number
        assert value is not None and math.isfinite(value) and value > 0, name
    assert by_name["frames"].number == 8
    assert by_name["capture-to-sample latency p95"].number >= \
        by_name["capture-to-sample latency median"].number
    assert by_name["metrics ms/frame"].value == "0.1 ms"  # a hook fills its slot
    for name in INTEGRATION_SLOTS:
        assert name in by_name
    table = format_table(rows)
    assert "tracker vs bare" in table and ">= 90 %" in table

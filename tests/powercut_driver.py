"""Power-cut driver: runs real sessions into the real store until it is killed.

``python tests/powercut_driver.py DATA_DIR SEED``: the session engine with a fast fake clock and
the real SessionRecorder (WAL, synchronous=FULL). After each commit it prints ``R <rep id>`` for
every rep that committed, ``S <session id>`` once a session's start is committed and
``F <session id>`` once its end is, flushing stdout at once so the killer knows what landed.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from station.feedback import Measured, RepStats, Side  # noqa: E402
from station.practice.events import Event, RepDone, SessionFinished, SessionStarted, State, Timing  # noqa: E402
from station.practice.plan import default_plan  # noqa: E402
from station.practice.session import Engine  # noqa: E402
from station.records.recorder import SessionRecorder  # noqa: E402


def main() -> None:
    data_dir, seed = Path(sys.argv[1]), int(sys.argv[2])
    rng = random.Random(seed)
    out = sys.stdout

    def committed(rep_ids: list[str]) -> None:
        for rid in rep_ids:
            out.write(f"R {rid}\n")
        out.flush()

    plan = default_plan()
    rec = SessionRecorder(data_dir, plan, on_committed=committed, affected_side=Side.LEFT)
    out.write("READY\n")
    out.flush()
    t = 100.0
    while True:
        eng = Engine(plan, Timing(settle_s=3, intro_s=1, break_s=2))
        outs = eng.handle(Event.SHORT_PRESS, t)
        rec.on_outputs(outs, t)
        out.write(f"S {rec.session_id}\n")
        out.flush()
        sid = rec.session_id
        while eng.state not in (State.HOME, State.SUMMARY):
            t = eng.next_deadline() or t
            if rng.random() < 0.05:
                outs = eng.handle(Event.LONG_PRESS, t)
            else:
                outs = eng.tick(t)
            reps = []
            for o in outs:
                if isinstance(o, RepDone):
                    p = plan.items[o.pattern_index].pattern
                    reps.append(RepStats(
                        p.id, o.pattern_index, o.rep, p.target, 2.0, 2.5, 80.0,
                        dict.fromkeys(p.quiet, 0.3), dict.fromkeys(p.quiet, 0.35), 0.13, 1.0,
                        120, 0, 0.8, tuple((k / 10, {"left": {"eye": 0.1 * k}}) for k in range(40)),
                    ))
            rec.on_outputs(outs, t, Measured(tuple(reps)))
            if any(isinstance(o, SessionFinished) for o in outs):
                out.write(f"F {sid}\n")
                out.flush()
            assert not any(isinstance(o, SessionStarted) for o in outs)
        t += 5.0


if __name__ == "__main__":
    main()

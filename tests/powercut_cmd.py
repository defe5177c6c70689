"""Power-cut driver for one real ``station`` command: ``python tests/powercut_cmd.py ARGS...``.

Loads the station and the heavy libraries its commands use (matplotlib for the export's PDF)
first, prints ``GO`` (flushed), then runs ``station ARGS`` through the real ``main``. A killer
that waits for ``GO`` can place its kill -9 anywhere in the command's own work instead of in
Python's start-up.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    """Import, say GO, run the command; its exit code."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot  # noqa: F401
    from matplotlib.backends import backend_pdf  # noqa: F401

    import station.clinic.commands  # noqa: F401
    import station.clinic.export  # noqa: F401
    import station.clinic.report  # noqa: F401
    import station.records.wipe  # noqa: F401
    from station.cli import main as station_main

    sys.stdout.write("GO\n")
    sys.stdout.flush()
    return station_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())

"""Every sentence the patient reads or hears lives in ``station/practice/words.py``.

The rule, checked on the source (no import, a fraction of a second): in every module the
unit runs for a patient, a string literal that reads like a sentence (a capital letter, at
least three words, a full stop, question or exclamation mark at the end; an f-string counts
by its fixed text) is patient text and belongs in ``words.py``. Not counted: docstrings, log
lines (``log.info(...)`` and friends) and literals marked ``# not patient words: <who reads
it>`` on one of their lines or the line above (a clinic technician's terminal, a developer's
error). Modules whose every line is for the clinic or a developer are left out by name below,
each with the reason.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "station"
WORDS = PKG / "practice" / "words.py"
PRAGMA = "# not patient words"
# Modules no patient sees a line of (the unit's clinic and developer tools), with the reason.
NOT_PATIENT: dict[str, str] = {
    "desk/": "the clinic desk: a web app for the clinic's staff",
    "devtools/": "developer tools: bench, replay, validation, record generator",
    "tracking/fakes/": "the laptop demo's media and the test fakes",
    "cli.py": "the command line: clinic technicians and developers",
    "commands.py": "each package's subcommands print for a clinic technician",
    "clinic/report.py": "the PDF report for the therapist",
    "clinic/figures.py": "the report's charts",
    "clinic/checkin_figures.py": "the check-in report's charts",
    "appliance/doctor.py": "``station doctor``: a technician's self-check",
    "tracking/model.py": "face model errors name the command a technician runs",
    "tracking/camera.py": "camera errors go to the log and ``station doctor``; the patient sees words.CAMERA_MISSING",
}
FIRST_WORD = re.compile(r"[A-Z](?:[a-z'’]|\s)")  # "Press", "A face", "It's"; not "INSERT", "OK"
LOG_CALLS = frozenset({"debug", "info", "warning", "error", "exception", "critical", "log"})


def _skipped(rel: str) -> bool:
    return any(rel.startswith(p) if p.endswith("/") else rel == p or rel.endswith("/" + p) for p in NOT_PATIENT)


def _ignored_nodes(tree: ast.AST) -> set[int]:
    """Docstrings and everything inside a log call."""
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in LOG_CALLS \
                and isinstance(node.func.value, ast.Name) and node.func.value.id in {"log", "logging", "logger"}:
            ids |= {id(n) for n in ast.walk(node)}
    return ids


def is_sentence(text: str) -> bool:
    """Reads like a sentence: a capitalised word first, at least three words, an end mark."""
    t = " ".join(text.split())
    return len(t.split()) >= 3 and t[-1] in ".!?" and FIRST_WORD.match(t) is not None


def _text(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return None


def patient_sentences(path: Path) -> list[str]:
    """``file:line: text`` for every sentence-like literal outside ``words.py`` in ``path``."""
    source = path.read_text()
    lines = source.splitlines()
    tree = ast.parse(source)
    ignored = _ignored_nodes(tree)
    inside_fstring = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    found = []
    for node in ast.walk(tree):
        if id(node) in ignored or id(node) in inside_fstring:
            continue
        text = _text(node)
        if text is None or not is_sentence(text):
            continue
        start, end = node.lineno, getattr(node, "end_lineno", node.lineno) or node.lineno
        if any(PRAGMA in lines[i - 1] for i in range(max(1, start - 1), end + 1)):  # or the line above
            continue
        where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
        found.append(f"{where}:{start}: {text[:80]!r}")
    return found


def test_the_rule_sees_a_sentence_and_leaves_words_alone(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('"""A docstring is not patient text."""\n'
                      'import logging\nlog = logging.getLogger(__name__)\n'
                      'SAID = "Press the button to start."\n'
                      'ASKED = f"Try {3} of {5} again now."\n'
                      'KEY = "stick"\n'
                      'log.info("The stick was read in full.")\n'
                      'HELP = "Run station doctor on the unit."  # not patient words: a technician\n')
    hits = patient_sentences(sample)
    assert [h.split(": ", 1)[1] for h in hits] == ["'Press the button to start.'", "'Try {} of {} again now.'"]


def test_every_patient_sentence_is_in_words():
    scanned, found = 0, []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG).as_posix()
        if path == WORDS or _skipped(rel):
            continue
        scanned += 1
        found += patient_sentences(path)
    assert scanned > 50  # the rule still looks at the unit's modules
    assert found == [], "patient sentences outside station/practice/words.py:\n" + "\n".join(found)


def test_the_modules_left_out_exist():
    for prefix in NOT_PATIENT:
        hits = [p for p in PKG.rglob("*.py") if _skipped(p.relative_to(PKG).as_posix())
                and p.relative_to(PKG).as_posix().startswith(prefix.rstrip("/")) or p.name == prefix]
        assert hits, f"{prefix} is left out of the patient-words rule but no such module exists"

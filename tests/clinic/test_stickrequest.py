"""The stick's request file: declared once, every field held to it, one plain sentence when not;
and the folder-fd file helpers the stick flow writes a returned (hostile) stick with."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from station import files
from station.clinic import stick, stickrequest, unit
from station.errors import check_table

SECRET = bytes(range(32))
UNIT = "ms-unit01"


def _made(tmp_path: Path, **kw: object) -> dict:
    folder = tmp_path / "stick"
    folder.mkdir(exist_ok=True)
    stickrequest.make_stick(folder, SECRET, UNIT, **kw)  # type: ignore[arg-type]
    return json.loads((folder / stickrequest.STICK_FOLDER / stickrequest.REQUEST).read_bytes())


def test_what_make_stick_writes_is_what_the_declaration_allows(tmp_path: Path):
    doc = _made(tmp_path, wipe_after_export=True)
    good, broken = check_table(stickrequest.REQUEST_FIELDS,
                               {k: v for k, v in doc.items() if v is not None})
    assert broken == []
    assert set(good) | {"prescription_sha256"} == {f.name for f in stickrequest.REQUEST_FIELDS}
    req = stickrequest.parse_request(json.dumps(doc).encode())
    assert (req.unit, req.actions, req.prescription_sha256) == (
        UNIT, ("export", "wipe_after_export"), None)
    assert doc["key_id"] == unit.key_id(SECRET)


@pytest.mark.parametrize(("key", "value"), [
    ("format", 1.0), ("format", True), ("format", 2), ("unit", ""), ("unit", "x" * 41),
    ("unit", "ms unit"), ("key_id", "ABCDEF0123456789"), ("key_id", 7), ("nonce", "abc"),
    ("nonce", "g" * 32), ("created", 20260504), ("created", "x" * 65), ("created", "a\nb"),
    ("actions", "export"), ("actions", ["export", "export"]), ("actions", ["export", "bogus"]),
    ("actions", ["export"] * 4), ("prescription_sha256", "c" * 63), ("voice", None),
    ("voice", {"../x.wav": "d" * 64}),
])
def test_each_broken_field_is_the_one_plain_sentence(tmp_path: Path, key: str, value: object):
    doc = _made(tmp_path)
    doc[key] = value
    with pytest.raises(stickrequest.StickRefused) as err:
        stickrequest.parse_request(json.dumps(doc).encode())
    assert str(err.value) == stickrequest.DAMAGED


def test_missing_required_fields_and_unknown_extra_keys(tmp_path: Path):
    doc = _made(tmp_path)
    for key in ("format", "unit", "nonce", "created", "actions"):
        short = {k: v for k, v in doc.items() if k != key}
        with pytest.raises(stickrequest.StickRefused):
            stickrequest.parse_request(json.dumps(short).encode())
    doc["from_a_newer_desk"] = {"anything": [1, 2]}  # ignored, as before
    assert stickrequest.parse_request(json.dumps(doc).encode()).unit == UNIT


def test_the_flow_module_still_offers_the_request_names():
    for name in ("make_stick", "sign", "STICK_FOLDER", "REQUEST", "SIGNATURE", "EXPORT_FOLDER",
                 "MAX_REQUEST_BYTES", "verify_request", "nesting", "Request", "StickRefused"):
        assert getattr(stick, name) is getattr(stickrequest, name), name


def test_file_helpers_never_follow_a_planted_link(tmp_path: Path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "target.txt").write_text("keep")
    base = tmp_path / "stick"
    base.mkdir()
    (base / "a").symlink_to(outside)
    (base / "f.txt").symlink_to(outside / "target.txt")
    fd = files.open_dir_at(base)
    try:
        assert files.exists_at(fd, "a") and not files.exists_at(fd, "nope")
        with pytest.raises(OSError):
            files.parent_at(fd, "a/b.csv")  # a symlinked folder is refused
        with pytest.raises(OSError):
            files.sha256_at(fd, "f.txt")  # so is a symlinked file
        files.write_new_at(fd, "f.txt", b"new", uncached=True)  # the link is replaced
        sub = files.parent_at(fd, "x/y/z.csv")
        try:
            files.write_new_at(sub, "z.csv", b"rows")
            assert files.sha256_at(sub, "z.csv") == hashlib.sha256(b"rows").hexdigest()
        finally:
            os.close(sub)
    finally:
        os.close(fd)
    assert (outside / "target.txt").read_text() == "keep"
    assert (base / "f.txt").read_bytes() == b"new" and not (base / "f.txt").is_symlink()
    assert (base / "x" / "y" / "z.csv").read_bytes() == b"rows"

"""Hostile numbers and paths on the desk's forms: huge numbers, huge ids, stick folders."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from helpers import provision_unit
from sqlalchemy import select

from station.clinic import stick
from station.desk import db
from station.desk.app import create_app

ALIAS = "PT-PATH-1"


def _csrf(client) -> str:  # noqa: ANN001
    page = client.get("/").get_data(as_text=True)
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


@pytest.fixture
def desk(sqlite_url: str, tmp_path: Path):  # noqa: ANN201
    factory = db.open_db(sqlite_url)
    u = provision_unit(tmp_path)
    root = tmp_path / "media"
    (root / "STICK").mkdir(parents=True)
    app = create_app(factory, u.key_file, stick_roots=(root,))
    c = app.test_client()
    token = _csrf(c)
    assert c.post("/units", data={"unit_id": u.unit_id, "key_id": u.key_id, "csrf": token}).status_code == 302
    assert c.post("/prescribe", data={"csrf": token, "alias": ALIAS, "affected_side": "left", "target_minutes": "2",
                                      "sessions_per_day": "3", "reminder_times": "09:00",
                                      "use_eye_closure": "on"}).status_code == 302
    assert c.post(f"/units/{u.unit_id}/lend", data={"alias": ALIAS, "due_on": "2099-01-01",
                                                    "csrf": token}).status_code == 302
    with factory() as s:
        loan_id = s.scalar(select(db.Loan.id))
    return c, factory, u, root, loan_id, token


@pytest.mark.parametrize("field", ["target_minutes", "sessions_per_day", "eye_closure_reps",
                                   "eye_closure_move_s", "eye_closure_gentle_max_mm"])
def test_a_5000_digit_number_is_a_plain_400(desk, field: str):
    c, _f, _u, _r, _l, token = desk
    form = {"csrf": token, "alias": "PT-NUM-1", "affected_side": "left", "target_minutes": "2",
            "use_eye_closure": "on", field: "9" * 5000}
    r = c.post("/prescribe", data=form)
    assert r.status_code == 400
    assert "allowed" in r.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/prescriptions/99999999999999999999999.toml", "/prescriptions/2147483648.toml",
                                  "/prescriptions/" + "9" * 5000 + ".toml"])
def test_huge_ids_are_404(desk, path: str):
    c = desk[0]
    assert c.get(path).status_code == 404


@pytest.mark.parametrize("action", ["return", "stick"])
def test_huge_loan_ids_are_404(desk, action: str):
    c, *_rest, token = desk
    r = c.post(f"/loans/99999999999999999999999/{action}", data={"csrf": token, "folder": "/media/X"})
    assert r.status_code == 404


def _stick_answer(c, loan_id: int, token: str, folder: str) -> tuple[str, str]:  # noqa: ANN001
    r = c.post(f"/loans/{loan_id}/stick", data={"csrf": token, "folder": folder, "kind": "lend"})
    assert r.status_code == 302
    q = parse_qs(urlsplit(r.headers["Location"]).query)
    return q.get("msg", [""])[0], q.get("error", [""])[0]


@pytest.mark.slow
def test_sticks_are_written_only_under_the_stick_roots(desk, tmp_path: Path, monkeypatch):
    c, factory, u, root, loan_id, token = desk
    work = tmp_path / "server-cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (root / "LINK").symlink_to(outside)
    for folder in ("", "   ", "stick", "./", str(outside), str(root), str(root / "LINK"),
                   str(root / "STICK" / ".." / ".." / "elsewhere"), "/etc", str(root / "missing")):
        msg, error = _stick_answer(c, loan_id, token, folder)
        assert msg == "" and error, folder
        assert "sticks only" in error or "not a folder" in error, (folder, error)
    assert list(work.iterdir()) == [] and list(outside.iterdir()) == []
    with factory() as s:
        assert not [a for a in s.scalars(select(db.Audit)) if a.action == "stick"]
    msg, error = _stick_answer(c, loan_id, token, str(root / "STICK"))
    assert error == "" and msg.startswith("Stick written")
    assert (root / "STICK" / stick.STICK_FOLDER / "request.json").is_file()


def test_default_stick_roots_are_removable_media():
    from station.desk.stickroots import DEFAULT_ROOTS

    assert {str(p) for p in DEFAULT_ROOTS} == {"/media", "/run/media"}
    assert all(os.path.isabs(p) for p in DEFAULT_ROOTS)

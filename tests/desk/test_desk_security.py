"""Desk security: CSRF, loopback without accounts, passwords, Host header, the clinic key hidden."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import provision_unit

from station.cli import main
from station.desk import auth, db
from station.desk.app import create_app


@pytest.fixture
def desk(sqlite_url: str, tmp_path: Path):  # noqa: ANN201
    factory = db.open_db(sqlite_url)
    u = provision_unit(tmp_path)
    app = create_app(factory, u.key_file)
    return app, factory, u


def _csrf(client) -> str:  # noqa: ANN001
    page = client.get("/").get_data(as_text=True)
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def test_post_without_csrf_token_is_403(desk):
    app, factory, u = desk
    c = app.test_client()
    c.get("/")
    for path in ("/units", "/prescribe", "/import", "/units/x/lend", "/logout"):
        assert c.post(path, data={"unit_id": u.unit_id, "key_id": u.key_id}).status_code == 403
    assert c.post("/units", data={"unit_id": u.unit_id, "key_id": u.key_id, "csrf": "forged"}).status_code == 403
    ok = c.post("/units", data={"unit_id": u.unit_id, "key_id": u.key_id, "csrf": _csrf(c)})
    assert ok.status_code == 302
    with factory() as s:
        assert s.get(db.Unit, u.unit_id) is not None
    # another browser's token does not work in this one
    other = app.test_client()
    assert other.post("/units", data={"unit_id": "ms-9999", "key_id": u.key_id, "csrf": _csrf(c)}).status_code == 403


def test_non_loopback_bind_without_accounts_exits_2(sqlite_url: str, tmp_path: Path, capsys):
    assert main(["desk", "serve", "--db", sqlite_url, "--host", "0.0.0.0", "--port", "1"]) == 2
    assert "no desk account exists" in capsys.readouterr().err


@pytest.mark.slow
def test_accounts_wrong_password_and_login(desk, sqlite_url: str, tmp_path: Path, capsys):
    app, factory, u = desk
    pw = tmp_path / "pw"
    pw.write_text("short\n")
    assert main(["desk", "user", "add", "tech1", "--password-file", str(pw), "--db", sqlite_url]) == 2
    pw.write_text("a long enough secret phrase\n")
    assert main(["desk", "user", "add", "tech1", "--password-file", str(pw), "--db", sqlite_url]) == 0
    with factory() as s:
        user = s.query(db.User).one()
        assert user.password_hash.startswith("$argon2") and "long enough" not in user.password_hash
        assert auth.check_password(s, "tech1", "wrong password here") is None
        assert auth.check_password(s, "nobody", "a long enough secret phrase") is None
    c = app.test_client()
    assert c.get("/").status_code == 302 and c.get("/api/units").status_code == 401
    token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").get_data(as_text=True)).group(1)
    bad = c.post("/login", data={"name": "tech1", "password": "wrong password here", "csrf": token})
    assert bad.status_code == 401 and "do not match" in bad.get_data(as_text=True)
    assert c.get("/").status_code == 302
    good = c.post("/login", data={"name": "tech1", "password": "a long enough secret phrase", "csrf": token})
    assert good.status_code == 302
    assert c.get("/").status_code == 200 and c.get("/api/units").status_code == 200
    # the session is on the server: logging out makes the old cookie worthless
    cookie = c.get_cookie("desk_session").value
    c.post("/logout", data={"csrf": _csrf(c)})
    c.set_cookie("desk_session", cookie)
    assert c.get("/").status_code == 302


def test_host_header_is_checked(desk):
    app, _f, _u = desk
    c = app.test_client()
    assert c.get("/", headers={"Host": "127.0.0.1:8470"}).status_code == 200
    assert c.get("/", headers={"Host": "localhost"}).status_code == 200
    assert c.get("/", headers={"Host": "attacker.example:8470"}).status_code == 400
    assert c.get("/api/units", headers={"Host": "rebind.example"}).status_code == 400


def test_no_route_reveals_the_clinic_key(desk, tmp_path: Path):
    app, factory, u = desk
    secret = u.key_file.read_text()
    hexkey = secret.split()[-1]
    c = app.test_client()
    token = _csrf(c)
    c.post("/units", data={"unit_id": u.unit_id, "key_id": u.key_id, "csrf": token})
    c.post(f"/units/{u.unit_id}/lend", data={"alias": "PT-1", "due_on": "2099-01-01", "csrf": token})
    seen = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        path = re.sub(r"<(?:int:)?(\w+)>", lambda m: {"unit_id": u.unit_id, "alias": "PT-1"}.get(m.group(1), "1"),
                      rule.rule)
        if "static" in path:
            path = "/static/desk.js"
        body = c.get(path).get_data()
        seen.append(path)
        assert hexkey.encode() not in body and bytes.fromhex(hexkey) not in body, path
    assert len(seen) >= 12
    with factory() as s:  # nor the database
        for table in db.Base.metadata.sorted_tables:
            for row in s.execute(table.select()):
                assert hexkey not in repr(tuple(row)), table.name

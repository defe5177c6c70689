"""Desk security: CSRF, loopback without accounts, passwords, Host header, the clinic key hidden."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import counts, provision_unit
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

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


def _post_rules() -> list[str]:
    """Every route that takes a POST (listing them touches no database)."""
    app = create_app(sessionmaker())
    return sorted(r.rule for r in app.url_map.iter_rules() if "POST" in (r.methods or ()))


POST_RULES = _post_rules()
FORM = {"unit_id": "ms-other01", "key_id": "0" * 16, "alias": "PT-1", "due_on": "2099-01-01", "name": "tech1",
        "password": "a password of some length", "reason": "lost", "folder": "/media/STICK", "kind": "lend",
        "path": "/no/such/folder", "affected_side": "left", "use_eye_closure": "on"}


def _path(rule: str, unit_id: str, loan_id: int) -> str:
    parts = {"unit_id": unit_id, "alias": "PT-1", "loan_id": str(loan_id)}
    return re.sub(r"<(?:int:)?(\w+)>", lambda m: parts.get(m.group(1), "1"), rule)


URLS = {  # every URL the desk has had since its pages were closures in one function
    "/": "GET", "/login": "GET POST", "/logout": "POST", "/units": "POST", "/units/<unit_id>": "GET",
    "/units/<unit_id>/lend": "POST", "/units/<unit_id>/records": "POST", "/units/<unit_id>/discard": "POST",
    "/units/<unit_id>/wiped": "POST", "/loans/<int:loan_id>/return": "POST", "/loans/<int:loan_id>/stick": "POST",
    "/prescribe": "GET POST", "/prescriptions/<int:pid>.toml": "GET", "/import": "GET POST", "/patients": "GET",
    "/patients/<alias>": "GET", "/patients/<alias>/report.pdf": "GET", "/audit": "GET", "/api/units": "GET",
    "/api/patients": "GET", "/api/patients/<alias>": "GET", "/api/patients/<alias>/checkins.fhir.json": "GET",
    "/static/<path:filename>": "GET"}


def test_the_blueprints_keep_every_url():
    app = create_app(sessionmaker())
    found = {r.rule: " ".join(sorted((r.methods or set()) - {"HEAD", "OPTIONS"})) for r in app.url_map.iter_rules()}
    assert found == URLS
    assert set(POST_RULES) == {rule for rule, methods in URLS.items() if "POST" in methods}


@pytest.mark.parametrize("rule", POST_RULES)
def test_every_post_route_refuses_a_missing_or_wrong_csrf_token(desk, rule: str):
    """Each POST route (found in the url_map, so a new one is covered) answers 403 and changes
    nothing without this visit's token; with it, the same request reaches the page."""
    app, factory, u = desk
    c = app.test_client()
    token = _csrf(c)
    assert c.post("/units", data={"unit_id": u.unit_id, "key_id": u.key_id, "csrf": token}).status_code == 302
    lent = c.post(f"/units/{u.unit_id}/lend", data={"alias": "PT-1", "due_on": "2099-01-01", "csrf": token})
    assert lent.status_code == 302
    with factory() as s:
        loan_id = s.scalar(select(db.Loan.id))
    path = _path(rule, u.unit_id, loan_id)
    before = counts(factory)
    other = app.test_client()
    for sent in ({}, {"csrf": ""}, {"csrf": "forged"}, {"csrf": token[:-2]}, {"csrf": token + "x"},
                 {"csrf": _csrf(other)}, {"csrf": _csrf(create_app(factory, u.key_file).test_client())}):
        r = c.post(path, data={**FORM, **sent})
        assert r.status_code == 403, (rule, sent, r.status_code)
        assert b"no valid security token" in r.data
    assert counts(factory) == before
    assert c.post(path, data={**FORM, "csrf": token}).status_code not in (403, 404, 405)


def test_a_token_from_before_signing_in_is_worth_nothing_after(desk, sqlite_url: str):
    app, factory, _u = desk
    with factory() as s, s.begin():
        auth.add_user(s, "tech1", "a long enough secret phrase")
    c = app.test_client()
    before = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").get_data(as_text=True)).group(1)
    assert c.post("/login", data={"name": "tech1", "password": "a long enough secret phrase",
                                  "csrf": before}).status_code == 302
    assert c.post("/logout", data={"csrf": before}).status_code == 403
    assert c.post("/logout", data={"csrf": _csrf(c)}).status_code == 302


FOREIGN = ["attacker.example", "attacker.example:8470", "127.0.0.1.attacker.example", "localhost.attacker.example",
           "localhost:99999", "local host", "localhost/evil", "user@localhost", "[::1]:8470", "LOCALHOST"]


def test_a_foreign_host_header_gets_no_page_and_no_session(desk):
    """Flask's TRUSTED_HOSTS check: any other Host is 400 before a page, a login redirect or a
    CSRF check runs (a name rebound to 127.0.0.1 reads nothing); an IPv6 literal is reached
    by a name, since the check cannot list one; browsers send host names in lower case."""
    app, factory, u = desk
    with factory() as s, s.begin():  # with accounts, a page would otherwise redirect to the login
        auth.add_user(s, "tech1", "a long enough secret phrase")
    c = app.test_client()
    before = counts(factory)
    for host in FOREIGN:
        for method, path in (("GET", "/"), ("GET", "/login"), ("GET", "/api/units"), ("POST", "/units"),
                             ("POST", "/login"), ("GET", "/static/desk.css"), ("GET", "/no/such/page")):
            r = c.open(path, method=method, headers={"Host": host}, data={"name": "tech1"})
            assert r.status_code == 400, (host, method, path, r.status_code)
            assert b"does not answer to that host name" in r.data
            assert "desk_session" not in r.headers.get("Set-Cookie", "")
    assert counts(factory) == before
    assert c.get("/login", headers={"Host": "localhost:8470"}).status_code == 200


def test_allowed_host_names_are_trusted_and_nothing_more(sqlite_url: str):
    app = create_app(db.open_db(sqlite_url), None, {"Clinic-PC.local", "192.168.1.20", "fe80::1"})
    c = app.test_client()
    for host in ("clinic-pc.local", "clinic-pc.local:8470", "192.168.1.20:8470", "127.0.0.1", "localhost:8470"):
        assert c.get("/", headers={"Host": host}).status_code == 200, host
    for host in ("sub.clinic-pc.local", "clinic-pc.local.attacker.example", "192.168.1.21", "[fe80::1]"):
        assert c.get("/", headers={"Host": host}).status_code == 400, host


def test_over_https_a_form_must_come_from_the_desks_own_pages(desk):
    """Flask-WTF's HTTPS check: the POST's Referer must be the desk itself (the desk's
    Referrer-Policy, same-origin, lets the browser say so and tells no other site)."""
    app, factory, u = desk
    c = app.test_client()
    page = c.get("/", base_url="https://localhost")
    assert page.headers["Referrer-Policy"] == "same-origin"
    token = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    form = {"unit_id": u.unit_id, "key_id": u.key_id, "csrf": token}
    for referer in (None, "https://attacker.example/", "http://localhost/", "https://localhost.attacker.example/"):
        headers = {"Referer": referer} if referer else {}
        assert c.post("/units", base_url="https://localhost", data=form, headers=headers).status_code == 403
    with factory() as s:
        assert s.get(db.Unit, u.unit_id) is None
    ok = c.post("/units", base_url="https://localhost", data=form, headers={"Referer": "https://localhost/"})
    assert ok.status_code == 302


def test_the_only_cookie_is_the_desks_own(desk):
    """Flask's session is the desk's visit, filled per request: it never sets a cookie."""
    app, _f, u = desk
    c = app.test_client()
    first = c.get("/")
    posted = c.post("/units", data={"unit_id": u.unit_id, "key_id": u.key_id, "csrf": _csrf(c)})
    assert posted.status_code == 302
    names = [h.split("=", 1)[0] for r in (first, posted) for h in r.headers.getlist("Set-Cookie")]
    assert names == ["desk_session"]

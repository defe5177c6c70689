"""``station desk serve|user add`` on hostile files and options: FIFOs, devices, bad ports,
a port in use, remote use without TLS, and TLS with a Secure cookie (127.0.0.1 only)."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

from station.cli import main
from station.desk import auth, db, serving
from station.desk.app import create_app

PASSWORD = "a long enough secret phrase"


def _station(*argv: str, timeout: float = 30) -> subprocess.CompletedProcess:
    """Run ``station`` in a child; a hang is a failure (TimeoutExpired), not a stuck suite."""
    return subprocess.run([sys.executable, "-m", "station", *argv], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return path


@pytest.mark.slow
def test_password_file_fifo_is_refused_at_once(sqlite_url: str, fifo: Path):
    r = _station("desk", "user", "add", "tech1", "--password-file", str(fifo), "--db", sqlite_url)
    assert r.returncode == 2, r.stderr
    assert "not a regular file" in r.stderr and "Traceback" not in r.stderr


def test_password_file_device_is_refused(sqlite_url: str, capsys):
    assert main(["desk", "user", "add", "tech1", "--password-file", "/dev/zero", "--db", sqlite_url]) == 2
    assert "not a regular file" in capsys.readouterr().err


@pytest.mark.slow
def test_key_file_fifo_is_refused_at_once(sqlite_url: str, fifo: Path):
    r = _station("desk", "serve", "--db", sqlite_url, "--port", "1", "--key-file", str(fifo))
    assert r.returncode == 2, r.stderr
    assert "clinic key" in r.stderr and "Traceback" not in r.stderr


def test_secret_file_fifo_is_refused_at_once(tmp_path: Path, fifo: Path):
    r = _station("--data-dir", str(tmp_path / "d"), "clinic", "provision", "--secret-file", str(fifo))
    assert r.returncode == 2, r.stderr


@pytest.mark.parametrize("port", ["99999", "0", "-1", "http"])
def test_a_bad_port_is_exit_2_naming_it(sqlite_url: str, port: str, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["desk", "serve", "--db", sqlite_url, "--port", port])
    assert exc.value.code == 2
    assert port in capsys.readouterr().err


@pytest.mark.slow
def test_a_port_in_use_is_a_plain_message(sqlite_url: str):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = _station("desk", "serve", "--db", sqlite_url, "--port", str(port))
    assert r.returncode == 2, r.stderr
    assert f"port {port}" in r.stderr and "in use" in r.stderr and "Traceback" not in r.stderr


def _account(url: str) -> None:
    factory = db.open_db(url)
    with factory() as s, s.begin():
        auth.add_user(s, "tech1", PASSWORD)


@pytest.mark.slow
def test_remote_use_needs_tls_or_a_proxy(sqlite_url: str, tmp_path: Path, capsys):
    _account(sqlite_url)
    assert main(["desk", "serve", "--db", sqlite_url, "--host", "0.0.0.0", "--port", "8470"]) == 2
    err = capsys.readouterr().err
    assert "--tls-cert" in err and "--behind-proxy" in err
    cert, key = _self_signed(tmp_path)
    plan = serving.plan("0.0.0.0", 8470, str(cert), str(key), False)
    assert plan.secure and plan.scheme == "https"
    assert serving.plan("0.0.0.0", 8470, None, None, True).secure
    assert not serving.plan("127.0.0.1", 8470, None, None, False).secure
    with pytest.raises(Exception, match="both"):
        serving.plan("127.0.0.1", 8470, str(cert), None, False)


def test_secure_cookie_when_asked(sqlite_url: str):
    app = create_app(db.open_db(sqlite_url), None, secure_cookies=True)
    cookie = app.test_client().get("/").headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie
    plain = create_app(db.open_db(sqlite_url), None).test_client().get("/").headers["Set-Cookie"]
    assert "Secure" not in plain


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "desk.crt", tmp_path / "desk.key"
    if not cert.exists():
        openssl = pytest.importorskip("shutil").which("openssl")
        if openssl is None:
            pytest.skip("openssl is absent: apt-get install openssl")
        subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                        "/CN=localhost", "-keyout", str(key), "-out", str(cert)], check=True,
                       capture_output=True, timeout=60)
    return cert, key


@pytest.mark.slow
def test_desk_serves_tls_with_a_secure_cookie(sqlite_url: str, tmp_path: Path):
    cert, key = _self_signed(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "station", "desk", "serve", "--db", sqlite_url,
                             "--port", str(port), "--tls-cert", str(cert), "--tls-key", str(key)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        assert first.startswith(f"Clinic desk at https://127.0.0.1:{port}/"), (first, proc.poll())
        ctx = ssl.create_default_context(cafile=str(cert))
        ctx.check_hostname = False
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
                        ctx.wrap_socket(raw) as tls:
                    tls.sendall(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    answer = b""
                    while chunk := tls.recv(65536):
                        answer += chunk
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline
        head = answer.split(b"\r\n\r\n", 1)[0].decode()
        assert head.startswith("HTTP/1.1 200")
        cookie = [line for line in head.split("\r\n") if line.lower().startswith("set-cookie: desk_session=")]
        assert cookie and "Secure" in cookie[0]
        # plain HTTP on the TLS port gets no page
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            raw.sendall(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            try:
                plain = raw.recv(65536)
            except ConnectionResetError:
                plain = b""
            assert b"desk_session" not in plain
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()


def test_an_ipv6_address_is_reached_by_a_name(sqlite_url: str, capsys):
    """Flask's host check cannot list an IPv6 literal: the desk says so before it listens,
    instead of printing an address whose every page would be 400."""
    _account(sqlite_url)
    base = ["desk", "serve", "--db", sqlite_url, "--port", "1", "--behind-proxy"]
    assert main([*base, "--allow-host", "fe80::1"]) == 2
    assert "cannot list an IPv6 address" in capsys.readouterr().err
    assert main([*base, "--host", "2001:db8::5"]) == 2
    assert "give --allow-host NAME" in capsys.readouterr().err

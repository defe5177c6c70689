"""Reading a returned bundle as hostile input: its signature first, then its manifest, then streams.

A bundle is a folder (or a zip of one) with ``manifest.json`` (every other file's name, size and
sha256), ``manifest.sig`` (the unit's HMAC of the manifest with the clinic key, see
:func:`station.clinic.export.sign_manifest`) and the files. :func:`open_bundle` opens it without
following a symlink or trusting a zip header, checks the signature before it parses a byte of the
manifest, checks the manifest against a typed schema (the same :class:`station.records.schema.Field`
checks as the rows), and then hands out each file as a stream that counts and hashes what it
reads: reading past the manifest's size, or a sha256 that differs at the end, is a refusal. No
file is ever read whole into memory except the small ones (``unit.json``, the prescription, the
PDF), each under its own limit.

Limits (per file, from what a year of practice at the most a prescription allows can produce, see
:mod:`station.desk.importer`) are checked against the manifest's sizes before anything is read, so a
hostile 600,000-row ``reps.csv`` is refused at once.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import stat
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from station.clinic.export import MANIFEST, SIGNATURE, signature_ok
from station.clinic.stickrequest import nesting
from station.clinic.unit import UNIT_ID_RE, key_id
from station.records import schema
from station.records.schema import INT, TEXT, UTC_TIME, Field, RecordError

MAX_MANIFEST_BYTES = 1 << 20
MAX_SIGNATURE_BYTES = 256
MAX_ZIP_RATIO = 200  # a CSV compresses maybe 10x; far more is a zip bomb
MAX_JSON_DEPTH = 32
#: every file a station bundle may hold, with its largest size (see the importer's row limits)
FILE_LIMITS: dict[str, int] = {
    "sessions.csv": 8 << 20,
    "reps.csv": 96 << 20,
    "events.csv": 192 << 20,
    "calibrations.csv": 8 << 20,
    "checkins.csv": 2 << 20,
    "checkin_movements.csv": 8 << 20,
    "unit.json": 1 << 20,
    "prescription.toml": 64 << 10,
    "report.pdf": 32 << 20,
}
MAX_BUNDLE_BYTES = sum(FILE_LIMITS.values())
REQUIRED = ("sessions.csv", "reps.csv", "unit.json")

MANIFEST_RECORD: tuple[Field, ...] = (
    Field("format", INT, required=True, lo=1, hi=1),
    Field("unit_id", TEXT, required=True, max_len=40, pattern=UNIT_ID_RE),
    Field("created_utc", UTC_TIME, required=True, max_len=32),
    Field("key_id", TEXT, max_len=16, pattern=re.compile(r"[0-9a-f]{16}")),
)
FILE_ENTRY: tuple[Field, ...] = (
    Field("name", TEXT, required=True, max_len=64, pattern=re.compile(r"[a-z][a-z0-9._-]*")),
    Field("bytes", INT, required=True, lo=0, hi=max(FILE_LIMITS.values())),
    Field("sha256", TEXT, required=True, max_len=64, pattern=schema.HEX64_RE),
)


class BundleRefused(Exception):
    """The bundle was not imported; the message says why in one plain sentence."""


@dataclass(frozen=True)
class Manifest:
    """A checked manifest: the unit, and every file's size and sha256."""

    raw: bytes
    unit_id: str
    created_utc: str
    files: dict[str, tuple[int, str]]  # name -> (bytes, sha256)

    @property
    def sha256(self) -> str:
        """The bundle's identity (the manifest pins every file)."""
        return hashlib.sha256(self.raw).hexdigest()


def json_depth_ok(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when brackets nest at most ``limit`` deep (outside strings): a 100,000-deep
    document would otherwise blow the JSON parser's stack. The stick request's own count."""
    return nesting(text) <= limit


def load_json_object(data: bytes, name: str) -> dict[str, Any]:
    """``data`` as a JSON object, or BundleRefused naming ``name``."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BundleRefused(f"{name} is not UTF-8 text.") from None
    if not json_depth_ok(text):
        raise BundleRefused(f"{name} nests deeper than a station file does ({MAX_JSON_DEPTH} levels).")
    try:
        obj = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise BundleRefused(f"{name} is damaged (not JSON).") from None
    if not isinstance(obj, dict):
        raise BundleRefused(f"{name} is not a JSON object (found a {type(obj).__name__}).")
    return obj


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def check_manifest(raw: bytes) -> Manifest:
    """Parse and check a manifest against its schema (signature already checked)."""
    obj = load_json_object(raw, MANIFEST)
    try:
        top = schema.parse_mapping(MANIFEST_RECORD, obj, MANIFEST)
    except RecordError as exc:
        raise BundleRefused(f"{exc}.") from None
    entries = obj.get("files")
    if not isinstance(entries, list) or not 1 <= len(entries) <= len(FILE_LIMITS):
        raise BundleRefused(f"{MANIFEST}, files: found {type(entries).__name__}, "
                            f"allowed a list of 1 to {len(FILE_LIMITS)} files.")
    files: dict[str, tuple[int, str]] = {}
    for i, e in enumerate(entries, 1):
        if not isinstance(e, dict):
            raise BundleRefused(f"{MANIFEST} file {i}: found a {type(e).__name__}, allowed an object.")
        try:
            entry = schema.parse_mapping(FILE_ENTRY, e, f"{MANIFEST} file {i}")
        except RecordError as exc:
            raise BundleRefused(f"{exc}.") from None
        name = entry["name"]
        if name not in FILE_LIMITS:
            raise BundleRefused(f"{MANIFEST} lists {name}, which is not a file a station bundle has.")
        if name in files:
            raise BundleRefused(f"{MANIFEST} lists {name} twice.")
        if entry["bytes"] > FILE_LIMITS[name]:
            raise BundleRefused(f"{name} is {entry['bytes']} bytes, more than the {FILE_LIMITS[name]} "
                                "a year of records can make.")
        files[name] = (entry["bytes"], entry["sha256"])
    missing = [n for n in REQUIRED if n not in files]
    if missing:
        raise BundleRefused(f"{MANIFEST} does not list {', '.join(missing)}.")
    return Manifest(raw, top["unit_id"], top["created_utc"], files)


# ---------------------------------------------------------------- sources: a folder or a zip


class _Hashing(io.RawIOBase):
    """A read-only stream over ``inner`` that hashes and counts; refuses more than ``size``."""

    def __init__(self, inner: Any, name: str, size: int, sha256: str) -> None:
        super().__init__()
        self.inner, self.name, self.size, self.sha256 = inner, name, size, sha256
        self.seen = 0
        self.hash = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self.inner.read(min(len(b), 1 << 20))
        self.seen += len(data)
        if self.seen > self.size:
            raise BundleRefused(f"{self.name} is longer than the manifest says ({self.size} bytes).")
        self.hash.update(data)
        b[:len(data)] = data
        return len(data)

    def finish(self) -> None:
        """Read what is left and check size and sha256 against the manifest."""
        buf = bytearray(1 << 20)
        while self.readinto(buf):
            pass
        if self.seen != self.size:
            raise BundleRefused(f"{self.name} is {self.seen} bytes; the manifest says {self.size}.")
        if self.hash.hexdigest() != self.sha256:
            raise BundleRefused(f"{self.name} was changed after the export (its checksum differs).")


class Bundle:
    """An open bundle (folder or zip) whose signature and manifest were checked."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.label = path.name
        self.manifest: Manifest | None = None

    # each source says which names it holds, how big each is, and opens one as a byte stream
    def names(self) -> set[str]:
        raise NotImplementedError

    def size(self, name: str) -> int:
        raise NotImplementedError

    def _open(self, name: str) -> IO[bytes]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the folder or zip."""

    def read_small(self, name: str, limit: int) -> bytes:
        """A small file whole (manifest, signature), never more than ``limit`` bytes."""
        if self.size(name) > limit:
            raise BundleRefused(f"{name} is {self.size(name)} bytes, more than the {limit} allowed.")
        with self._open(name) as fh:
            data = fh.read(limit + 1)
        if len(data) > limit:
            raise BundleRefused(f"{name} is longer than its header says.")
        return data

    @contextmanager
    def stream(self, name: str) -> Iterator[_Hashing]:
        """A file of the manifest as a counted, hashed stream; checked when the block ends."""
        assert self.manifest is not None
        size, digest = self.manifest.files[name]
        with self._open(name) as fh:
            h = _Hashing(fh, name, size, digest)
            yield h
            h.finish()

    def read_checked(self, name: str) -> bytes:
        """A file of the manifest whole (the small ones), size and sha256 checked."""
        chunks = []
        buf = bytearray(1 << 20)
        with self.stream(name) as h:
            while n := h.readinto(buf):
                chunks.append(bytes(buf[:n]))
        return b"".join(chunks)

    def check(self, secret: bytes) -> Manifest:
        """Verify the signature, then the manifest, then that the files are exactly its files."""
        names = self.names()
        if MANIFEST not in names:
            raise BundleRefused(f"{self.label} has no manifest.json: not a bundle, or a partial one.")
        raw = self.read_small(MANIFEST, MAX_MANIFEST_BYTES)
        if SIGNATURE not in names:
            raise BundleRefused(f"{self.label} is not signed (no {SIGNATURE}): export it again with "
                                "a provisioned unit.")
        sig = self.read_small(SIGNATURE, MAX_SIGNATURE_BYTES)
        if not signature_ok(secret, raw, sig):
            raise BundleRefused(f"{self.label} is not signed by this clinic's key (this desk's key id is "
                                f"{key_id(secret)}): it comes from another clinic, or it was altered.")
        manifest = check_manifest(raw)
        extra = sorted(names - set(manifest.files) - {MANIFEST, SIGNATURE})
        if extra:
            raise BundleRefused(f"{extra[0][:64]} is in the bundle but not in its manifest.")
        for name, (size, _digest) in manifest.files.items():
            if name not in names:
                raise BundleRefused(f"{name} is missing: the bundle is incomplete.")
            if self.size(name) != size:
                raise BundleRefused(f"{name} is {self.size(name)} bytes; the manifest says {size}.")
        self.manifest = manifest
        return manifest


class FolderBundle(Bundle):
    """A bundle folder, read through one directory descriptor (no symlink is ever followed)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        try:
            self.dfd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            raise BundleRefused(f"{path.name} cannot be opened as a folder ({exc.strerror}).") from None
        self._names = set(os.listdir(self.dfd))
        if len(self._names) > 1000:
            os.close(self.dfd)
            raise BundleRefused(f"{path.name} holds {len(self._names)} files, more than a bundle has.")

    def names(self) -> set[str]:
        return self._names

    def size(self, name: str) -> int:
        st = os.stat(name, dir_fd=self.dfd, follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode):
            raise BundleRefused(f"{name} is a symbolic link.")
        if not stat.S_ISREG(st.st_mode):
            raise BundleRefused(f"{name} is not a regular file.")
        return st.st_size

    def _open(self, name: str) -> IO[bytes]:
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=self.dfd)
        except OSError as exc:
            raise BundleRefused(f"{name} cannot be read ({exc.strerror}).") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise BundleRefused(f"{name} is not a regular file.")
        return os.fdopen(fd, "rb", buffering=0)

    def close(self) -> None:
        os.close(self.dfd)


class ZipBundle(Bundle):
    """A zipped bundle (flat, or one folder deep), read from the zip, never extracted."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        try:
            self.zf = zipfile.ZipFile(path)
        except (OSError, zipfile.BadZipFile, ValueError) as exc:
            raise BundleRefused(f"{path.name} is not a readable zip file ({str(exc)[:80]}).") from None
        try:
            self.by_name = self._index()
        except BaseException:
            self.zf.close()
            raise

    def _index(self) -> dict[str, zipfile.ZipInfo]:
        infos = self.zf.infolist()
        label = self.path.name
        if len(infos) > len(FILE_LIMITS) + 3:
            raise BundleRefused(f"{label} holds {len(infos)} entries, more than a bundle has.")
        by_name: dict[str, zipfile.ZipInfo] = {}
        prefixes = set()
        for info in infos:
            n = info.filename
            if n.startswith("/") or "\\" in n or any(p in ("..", "") for p in n.rstrip("/").split("/")):
                raise BundleRefused(f"{label} has an entry with an unsafe path: {n[:80]!r}.")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise BundleRefused(f"{label} has a symbolic link: {n[:80]!r}.")
            if info.is_dir():
                continue
            if info.flag_bits & 0x1:
                raise BundleRefused(f"{label} is encrypted ({n[:80]!r}): a station bundle never is.")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise BundleRefused(f"{label} uses a compression this desk does not read ({n[:80]!r}):"
                                    " zip it again with ordinary (deflate) compression.")
            parts = n.split("/")
            if len(parts) > 2:
                raise BundleRefused(f"{label} has nested folders ({n[:80]!r}); a bundle is flat.")
            prefixes.add(parts[0] if len(parts) == 2 else "")
            if parts[-1] in by_name:
                raise BundleRefused(f"{label} holds {parts[-1][:64]} twice.")
            by_name[parts[-1]] = info
        if len(prefixes) > 1:
            raise BundleRefused(f"{label} holds more than one bundle folder.")
        return by_name

    def names(self) -> set[str]:
        return set(self.by_name)

    def size(self, name: str) -> int:
        info = self.by_name[name]
        if info.compress_size and info.file_size / info.compress_size > MAX_ZIP_RATIO \
                and info.file_size > 1 << 20:
            raise BundleRefused(f"{name} expands {info.file_size // info.compress_size}"
                                " times: refused as a zip bomb.")
        return info.file_size

    def _open(self, name: str) -> IO[bytes]:
        return _ZipStream(  # type: ignore[return-value]  # reads like a binary file
            self.zf, self.by_name[name], self.path.name)

    def close(self) -> None:
        self.zf.close()


class _ZipStream:
    """A zip member as a stream whose damage (CRC, truncation) becomes a plain refusal."""

    def __init__(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, label: str) -> None:
        self.label = label
        try:
            self.fh = zf.open(info)
        except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, RuntimeError) as exc:
            raise BundleRefused(f"{label} is damaged ({str(exc)[:80]}).") from None

    def read(self, n: int = -1) -> bytes:
        try:
            return self.fh.read(n)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError) as exc:
            raise BundleRefused(f"{self.label} is damaged ({str(exc)[:80]}).") from None

    def __enter__(self) -> _ZipStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.fh.close()


def find_bundles(path: Path) -> list[Path]:
    """Bundles at ``path``: itself, or those a unit left on a clinic stick (newest last)."""
    export = path / "station-clinic" / "export"
    if path.is_dir() and not (path / MANIFEST).exists() and export.is_dir() and not export.is_symlink():
        return sorted(p for p in export.iterdir() if not p.name.startswith("."))
    return [path]


@contextmanager
def open_bundle(path: Path, secret: bytes) -> Iterator[Bundle]:
    """Open the bundle at ``path`` (folder or zip) and check its signature and manifest."""
    if path.is_symlink():
        raise BundleRefused(f"{path.name} is a symbolic link.")
    if path.is_dir():
        bundle: Bundle = FolderBundle(path)
    elif path.is_file():
        bundle = ZipBundle(path)
    else:
        raise BundleRefused(f"{path.name} is neither a bundle folder nor a zip file.")
    try:
        bundle.check(secret)
        yield bundle
    finally:
        bundle.close()

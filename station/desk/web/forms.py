"""The desk's forms as declared fields (Flask-WTF / WTForms).

A form here only carries what was typed: every rule about the values lives where the data
does (the unit id and key id in :mod:`station.desk.registry`, the loan cycle in
:mod:`station.desk.loans`, a prescription in the unit's own validator through
:mod:`station.desk.rxform`). The CSRF token is checked once for every POST by the app's
``CSRFProtect`` before any page runs, so these forms do not check it a second time, and a
route without a form class is covered all the same.
"""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField, PasswordField, StringField


def _text(*, strip: bool = False) -> StringField:
    """A text field that reads as "" when the browser did not send it (``strip``: without the
    spaces around it)."""
    return StringField(default="", filters=[_strip] if strip else [])


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class DeskForm(FlaskForm):
    """Fields read from the POST (the app checked its CSRF token already)."""

    class Meta:
        csrf = False


class LoginForm(DeskForm):
    """Sign in: an account name and its password."""

    name = _text()
    password = PasswordField(default="")


class UnitForm(DeskForm):
    """Register a unit: the id and clinic key id from its info screen."""

    unit_id = _text()
    key_id = _text()


class LendForm(DeskForm):
    """Lend a unit: to whom (an alias) and until when (None: not a date)."""

    alias = _text(strip=True)
    due_on = DateField(format="%Y-%m-%d")


class FolderForm(DeskForm):
    """A step that reads or writes a stick: the stick's folder (checked against the roots)."""

    folder = _text()


class StickForm(FolderForm):
    """Write a stick: which one (the lend stick, or the return stick written again)."""

    kind = StringField(default="lend")


class DiscardForm(DeskForm):
    """Give up on records that cannot be imported: who decides, and why (both audited)."""

    name = _text()
    reason = _text()


class ImportForm(DeskForm):
    """Import a returned bundle: an uploaded zip, or a folder on this computer."""

    bundle = FileField()
    path = _text(strip=True)

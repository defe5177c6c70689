"""Importing returned bundles by hand (the ``imports`` blueprint): ``/import``.

An uploaded zip, or every bundle found in a folder on this computer, goes through
:func:`station.desk.importer.import_path`: checked against the bundle's signature and
manifest and the record schema before anything is written, all or nothing, idempotent.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Blueprint, g, render_template, request

from station.desk import importer
from station.desk.web.common import desk
from station.desk.web.forms import ImportForm

bp = Blueprint("imports", __name__)


def _import_one(path: Path, label: str) -> tuple[str, str]:
    try:
        res = importer.import_path(desk().factory, path, g.who, desk().clinic_secret(), label=label)
    except importer.BundleRefused as exc:
        return "refused", f"{label} refused: {exc} Nothing was changed."
    return res.status, res.message


@bp.route("/import", methods=["GET", "POST"])
def import_page() -> tuple[str, int]:
    """The import page; a POST imports the uploaded zip or the bundles under the folder given."""
    results: list[tuple[str, str]] = []
    form = ImportForm()
    if request.method == "POST":
        upload = form.bundle.data
        if upload is not None and upload.filename:
            with tempfile.TemporaryDirectory(prefix="desk-upload-") as tmp:
                path = Path(tmp) / "bundle.zip"
                upload.save(path)
                results.append(_import_one(path, Path(upload.filename).name))
        elif form.path.data:
            for path in importer.find_bundles(Path(form.path.data).expanduser()):
                results.append(_import_one(path, path.name))
        else:
            results.append(("refused", "Choose a zip file or give the folder of a stick or bundle."))
    return render_template("import.html", results=results, path=form.path.data), (
        400 if any(r[0] == "refused" for r in results) else 200)

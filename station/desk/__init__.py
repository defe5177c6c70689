"""The clinic desk: prescribe, lend, collect and review, in a browser on the clinic computer.

Theory of operation
-------------------
``station desk serve`` starts a small server-rendered web application (Flask + Jinja2, served
by waitress) on 127.0.0.1. It keeps one registry in a database reached through SQLAlchemy 2 and
migrated by Alembic (:mod:`.db`, ``migrations/``): a SQLite file in the user data folder by
default, or one PostgreSQL server shared by several clinic computers (``--db
postgresql+psycopg://...``), with the same code.

The loan cycle, as the front page walks a technician through it:

1. register a unit (its id and clinic key id, from its info screen) - :mod:`.registry`;
2. write a prescription for a pseudonymous alias: a form over the pattern library whose input
   goes through the unit's own validator, errors shown next to the field (:mod:`.rxform`);
3. lend the unit to the alias with a due date, and write a signed stick with the existing
   stick maker (:func:`station.clinic.stick.make_stick`); the clinic key is read from its file at
   that moment and never shown, stored or sent;
4. on return, a second stick asks the unit to export and then wipe after a verified export;
5. import the bundle from the stick (or a zip): its signature (the unit's HMAC with the clinic
   key) and manifest checked first (:mod:`.bundlefile`), every row streamed through the one
   record schema before anything is written, all or nothing, idempotent (:mod:`.importer`);
6. read the patient's page: the same charts as the PDF report (:mod:`station.report`), fed
   with imported rows (:mod:`.patients`), and a JSON API for scripts.

Security: loopback only unless accounts exist (:mod:`.auth`: argon2 hashes, server-side
sessions), a CSRF token on every form, a Host header check, and an audit line for every
change (who lent, prescribed, imported or exported what, and when). The desk runs on the
clinic computer and is never imported by a unit.
"""

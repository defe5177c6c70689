"""The clinic desk: prescribe, lend, collect and review, in a browser on the clinic computer.

Theory of operation
-------------------
``station desk serve`` starts a small server-rendered web application (Flask + Jinja2, served
by waitress) on 127.0.0.1. It keeps one registry in a database reached through SQLAlchemy 2 and
migrated by Alembic (:mod:`.db`, ``migrations/``): a SQLite file in the user data folder by
default, or one PostgreSQL server shared by several clinic computers (``--db
postgresql+psycopg://...``), with the same code.

The loan cycle, as the front page walks a technician through it; :mod:`.loans` is its state
machine (a table of unit states x actions, no I/O), which the pages and :mod:`.registry` obey:

1. register a unit (its id and clinic key id, from its info screen) - :mod:`.registry`;
2. write a prescription for a pseudonymous alias: a form over the pattern library whose input
   goes through the unit's own validator, errors shown next to the field (:mod:`.rxform`);
3. lend the unit to the alias with a due date, and write a signed stick with the existing
   stick maker (:func:`station.clinic.stickrequest.make_stick`); the clinic key is read from its
   file at that moment and never shown, stored or sent;
4. on return, a second stick asks the unit to export and then wipe after a verified export;
   recording the return writes it (no return without a stick);
5. read the return stick back: the bundle the unit copied to it is imported (its signature, the
   unit's HMAC with the clinic key, and its manifest checked first (:mod:`.bundlefile`), every
   row streamed through the one record schema before anything is written, all or nothing,
   idempotent: :mod:`.importer`),
   and the unit's own result file on the stick confirms the wipe; only then may the unit be
   lent again (records that cannot be imported are discarded by a named person with a reason);
6. read the patient's page: the same charts and figures as the PDF report
   (:mod:`station.clinic.report`), fed with imported rows (:mod:`.patients`), and a JSON API;
   the weekly check-ins also as a FHIR R4 Bundle of Observations (:mod:`.fhir`).

Security: loopback only unless accounts exist (:mod:`.auth`: argon2 hashes, server-side
sessions that expire, no rows for visitors who are not signed in, a same-site ``next`` only),
sign-in throttling per client and per account that refuses before hashing, counted in the
database so that every desk process shares it (:mod:`.throttle`),
a CSRF token on every POST (Flask-WTF's ``CSRFProtect``, keyed to the server-side session), Flask's
``TRUSTED_HOSTS`` host check, sticks written only inside the stick roots
(:mod:`.stickroots`), ids bounded to the database's integers, and an audit line for every
change (who lent, prescribed, imported or exported what, and when; a refused sign-in names
only a real account). Off loopback the desk speaks HTTPS only, its own (cheroot with
``--tls-cert``) or a reverse proxy's (``--behind-proxy``), with Secure cookies
(:mod:`.serving`). The pages are Flask blueprints under :mod:`.web`, one per area, registered by the app
factory in :mod:`.app`; the ``station desk`` commands are in :mod:`.commands`. The desk runs
on the clinic computer and is never imported by a unit.
"""

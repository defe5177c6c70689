"""Records: what the patient practised, kept safe through power cuts and full disks.

Theory of operation
-------------------
``schema`` declares a session row and a rep row once (types, lengths, ranges, places) and
holds the one parser that reads them back from a CSV; ``store`` owns the SQLite file
(schema, migrations, WAL with ``synchronous=FULL``);
``recorder`` turns the session engine's outputs into rows, holding them in memory while the
disk is full; ``checkins`` turns a weekly check-in's numbers into rows written in one
transaction, and says when the next check-in is due; ``series`` packs a rep's per-frame
readings; ``progress`` turns rows into the home screen and after-pattern
sentences; ``wipe`` removes every patient record, and ``sessionlock`` keeps a wipe or an
export out of a running session.

Records hold numbers only, never a camera frame. Imports: practice and the top-level seam
modules; nothing here knows about the terminal or the clinic.
"""

"""Clinic: everything a unit shares with the clinic that lends it.

Theory of operation
-------------------
``prescription`` validates and applies what a therapist prescribes (the desk uses the same
validator); ``unit`` is the one unit identity and the clinic key; ``stickrequest`` is the
signed request a clinic stick carries (its declared format, signing it, making a stick,
verifying one) and ``stick`` the flow a unit runs when one goes in; ``spool`` hands stick jobs
between ``usb-sync`` and the running kiosk; ``recordings`` checks the clinic's recorded voice
cues that travel on the stick; ``export`` writes the verified bundle and ``report`` its PDF
(and the desk's charts); ``figures`` turns record rows into the numbers both show, each
saying what it counts (followed sessions, days of the loan); ``checkin_figures`` draws the
weekly check-in's trends and first/latest table with their noise bands, labelled as device
measurements and never a grade. ``commands`` turns command-line arguments into calls.

Imports: practice, tracking (the model pin) and records.
"""

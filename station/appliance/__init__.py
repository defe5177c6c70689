"""Appliance: the unit as a machine: ``watchdog`` (the systemd watchdog's heartbeats),
``doctor`` (the plain-language self-check) and ``halted`` (the still 'please return' screen).
``commands`` holds their command-line entry points.

Imports: anything below the kiosk (practice, tracking, records, clinic)."""

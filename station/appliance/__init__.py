"""Appliance: the unit as a machine (systemd watchdog, self-check, the still 'please return'
screen). ``commands`` holds their command-line entry points.

Imports: anything below the kiosk (practice, tracking, records, clinic)."""

"""The desk's pages, one Flask blueprint per area, registered by
:func:`station.desk.app.create_app`.

``signin`` (sign in and out), ``units`` (the front page, a unit's page, the audit log),
``lending`` (the loan cycle's steps: lend, sticks, return, records, discard, wipe),
``clinical`` (the prescription form and the patients' pages and PDF reports), ``imports``
(importing bundles by hand) and ``api`` (the JSON API and the FHIR check-ins). ``common``
holds what they share (the desk's settings, the request's redirect after a change), and
``forms`` the declared form fields (Flask-WTF); the app checks CSRF once for every POST, and
the data's own rules decide what is valid, never a form. Every URL is the one the desk has
always had; templates build links with ``url_for("blueprint.endpoint")``.
"""

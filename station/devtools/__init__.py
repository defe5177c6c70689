"""Developer tools: the benchmark (``station bench``: ``bench``, and ``bench_kiosk`` for the
kiosk loop's own cost), offline tracking of a video (``station track``: ``track``), a session
or a check-in on a video (``replay``, ``checkin_replay``), the project's own validation
(``station validate``: ``validate`` runs the scripted set of ``station.tracking.fakes.variants``
through the replay path and writes confusion tables; ``realblinks`` counts real blinks
recognised on the talking videos) and a generator of realistic records (``recordgen``);
``commands`` turns their command-line arguments into calls. Never imported by the kiosk; they
sit at the top of the import order and may use everything below."""

"""Developer tools: the benchmark (``station bench``), offline tracking of a video
(``station track``), a session or a check-in on a video (``replay``, ``checkin_replay``) and a
generator of realistic records. Never imported by the kiosk; they sit at the top of the import
order and may use everything below."""

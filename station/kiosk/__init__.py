"""The pygame kiosk: screen models, pure drawing functions and the UI loop.

``view``     the screen-model dataclass (everything one frame shows, as plain data)
``screens``  pure drawing: ``render(surface, model)`` for every screen; ``station screens``
``text``     wrapping and shrink-to-fit text
``theme``    colours, sizes and the plain words the patient reads
``app``      the :class:`~station.kiosk.app.Station` loop, ``station run`` and ``station demo``
``wiring``   builds the real services the loop plugs in (records, tracking, clinic chores)
``housekeeping``  once-a-second chores: clinic sticks, reminders, storage notices
"""

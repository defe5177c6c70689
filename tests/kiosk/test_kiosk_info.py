"""The clinician info tells the truth (camera kind, affected side and its source); an unprescribed
unit says once on home that it plays the default plan."""

from __future__ import annotations

import pygame
from rx_helpers import VALID, dumps

from station.clinic import prescription as rx
from station.config import Settings
from station.kiosk.wiring import SourceChoice, build_station
from station.practice import words
from station.practice.events import Event


def _station(data_dir, clock):
    pygame.init()
    return build_station(SourceChoice(demo=True, tracking=False), Settings(), data_dir, clock=clock)


def test_unprescribed_unit_info_and_the_default_plan_notice(data_dir, clock):
    st = _station(data_dir, clock)
    try:
        info = st.clinician_info()
        rows = dict(info.extra)
        assert info.camera == "none, tracking off"
        assert rows["Affected side"] == "left (unit setting: no prescription names a side)"
        assert "Gentle eye closure x3" in info.prescription
        assert [n.text for n in st.notices.values()] == [words.HOME_DEFAULT_PLAN]
        st.step(clock())
        st._after(st.engine.handle(Event.SHORT_PRESS, clock()), clock())  # the first session
        assert words.HOME_DEFAULT_PLAN not in [n.text for n in st.notices.values()]
    finally:
        st.stop()


def test_prescribed_side_is_named_with_its_source(data_dir, clock):
    new = dict(VALID, patient={"alias": "P-0700", "affected_side": "right"})
    assert rx.apply_bytes(data_dir, dumps(new).encode()).ok
    st = _station(data_dir, clock)
    try:
        assert dict(st.clinician_info().extra)["Affected side"] == "right (from the prescription)"
        assert words.HOME_DEFAULT_PLAN not in [n.text for n in st.notices.values()]
    finally:
        st.stop()


def test_info_shows_the_clinic_key_id_and_the_plan_in_staff_words(data_dir, clock):
    from station.clinic.unit import key_id, new_secret, provision

    secret = new_secret()
    provision(data_dir, secret)
    assert rx.apply_bytes(data_dir, dumps(VALID).encode()).ok
    st = _station(data_dir, clock)
    try:
        info = st.clinician_info()
        assert info.clinic_key_id == key_id(secret)  # what the desk's Register form asks for
        assert "_" not in info.prescription  # pattern names, never internal ids
        assert "min" in info.prescription and "a day" in info.prescription
        st._open_info(clock())
        surface = pygame.Surface((480, 320))
        from station.kiosk.screens import render

        texts = {b.text: b for b in render(surface, st.screen_model(clock()))}
        assert key_id(secret) in texts
        assert not texts[info.prescription].truncated  # the Plan row is not cut off
    finally:
        st.stop()


def test_a_returned_and_wiped_unit_says_so_on_home_until_the_next_session(data_dir, clock):
    from station.clinic import unit
    from station.clinic.stick import WIPED

    unit.note_export(data_dir, 1_700_000_000.0)  # it was lent, exported and wiped
    st = _station(data_dir, clock)
    try:
        assert [n.text for n in st.notices.values()] == [WIPED]
        st.step(clock())
        st._after(st.engine.handle(Event.SHORT_PRESS, clock()), clock())  # someone practises
        assert WIPED not in [n.text for n in st.notices.values()]
    finally:
        st.stop()

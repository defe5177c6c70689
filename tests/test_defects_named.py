"""The attack round's defects (D1-D25; the issue lists no D23), the name cache and the data
folder, each with the tests that failed before its fix and pass now. The table is checked: a
test renamed or removed shows here, so the list stays true."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

DEFECTS: dict[str, tuple[str, ...]] = {
    "D1 a bundle naming another alias": (
        "desk/test_desk_bundle_attacks.py::test_d1_a_bundle_naming_another_patient_is_refused",
        "desk/test_desk_bundle_attacks.py::test_d1_a_bundle_of_a_unit_never_lent_is_refused"),
    "D2 rows that broke the patient page": (
        "desk/test_desk_bundle_attacks.py::test_d2_d3_d4_d6_bad_rows_are_refused_naming_file_row_and_field",
        "desk/test_desk_bundle_attacks.py::test_d2_the_command_line_says_one_sentence_and_exits_2"),
    "D3 odd manifests, numbers and zips": (
        "desk/test_desk_bundle_attacks.py::test_d3_odd_manifests_are_refused",
        "desk/test_desk_bundle_attacks.py::test_d3_encrypted_or_unusual_zips_are_refused"),
    "D4 PostgreSQL DataErrors": (
        "desk/test_desk_bundle_attacks.py::test_d2_d3_d4_d6_bad_rows_are_refused_naming_file_row_and_field",),
    "D5 one bundle imported twice at once": (
        "desk/test_desk_bundle_attacks.py::test_d5_the_same_bundle_imported_twice_at_once",),
    "D6 NaN and Infinity in the API": (
        "desk/test_desk_bundle_attacks.py::test_d6_the_api_never_answers_nan_or_infinity",),
    "D7 a UTF-8 BOM sessions.csv": (
        "desk/test_desk_bundle_attacks.py::test_d7_a_bom_csv_imports_every_session",),
    "D8 next=/\\t/evil.example": (
        "desk/test_desk_login.py::test_login_next_never_leaves_the_site",),
    "D9 no sign-in throttling": (
        "desk/test_desk_login.py::test_throttle_refuses_before_hashing_for_a_growing_time",
        "desk/test_desk_login.py::test_throttled_login_answers_429_without_hashing",
        "desk/test_desk_login.py::test_parallel_password_guessing_leaves_a_logged_in_user_fast",
        "desk/test_desk_throttle_shared.py::test_two_desks_on_one_database_share_the_count",
        "desk/test_desk_throttle_shared.py::test_concurrent_failures_from_separate_desk_processes_are_all_counted"),
    "D10 session rows and audit lines": (
        "desk/test_desk_login.py::test_cookieless_requests_make_no_session_rows",
        "desk/test_desk_login.py::test_expired_sessions_are_refused_and_removed",
        "desk/test_desk_login.py::test_failed_login_audits_no_arbitrary_name"),
    "D11 5,000-digit form numbers": ("desk/test_desk_input.py::test_a_5000_digit_number_is_a_plain_400",),
    "D12 huge ids in a path": ("desk/test_desk_input.py::test_huge_ids_are_404",
                               "desk/test_desk_input.py::test_huge_loan_ids_are_404"),
    "D13 a stick written anywhere": (
        "desk/test_desk_input.py::test_sticks_are_written_only_under_the_stick_roots",
        "desk/test_desk_input.py::test_default_stick_roots_are_removable_media"),
    "D14 make-stick --voice through a planted symlink": (
        "clinic/test_clinic_voice_hostile.py::test_a_planted_cue_symlink_is_never_written_through",
        "clinic/test_clinic_voice_hostile.py::test_a_symlinked_voice_folder_sends_nothing_elsewhere"),
    "D15 hostile WAV chunks": (
        "clinic/test_clinic_voice_hostile.py::test_damaged_wavs_are_refused_in_words",
        "clinic/test_clinic_voice_hostile.py::test_make_stick_refuses_a_damaged_wav_with_exit_2",
        "clinic/test_clinic_voice_hostile.py::test_on_a_unit_a_signed_damaged_wav_still_lets_the_stick_finish"),
    "D16 a DNS query through nscd": (
        "acceptance/test_privacy_network.py::test_detector_sees_a_question_to_nscd",
        "acceptance/test_privacy_network.py::test_tracked_demo_makes_no_dns_query_ip_connect_or_send",
        "acceptance/test_privacy_network.py::test_station_track_makes_no_dns_query_ip_connect_or_send"),
    "D17 io_uring, int 0x80, AF_PACKET, inherited sockets": (
        "tracking/test_sandbox.py::test_no_socket_of_any_family_no_socketpair_no_io_uring",
        "tracking/test_sandbox.py::test_i386_int80_and_x32_syscalls_kill_the_process",
        "tracking/test_sandbox.py::test_a_socket_made_before_the_filter_cannot_send_or_connect",
        "tracking/test_sandbox.py::test_inherited_descriptors_are_closed_and_a_kept_socket_refused",
        "acceptance/test_privacy_network.py::test_the_model_process_refuses_sockets_in_every_thread"),
    "D18 the session lock held by a forked child": (
        "records/test_session_lock_children.py::test_a_forked_child_keeps_no_lock_after_release",
        "records/test_session_lock_children.py::test_the_lock_fd_is_close_on_exec",
        "records/test_session_lock_children.py::test_the_renderer_runs_no_python_in_the_child",
        "acceptance/test_stick_midsession.py::test_stick_mid_session_waits_then_every_session_survives"),
    "D19 the prescription log after a wipe": (
        "records/test_wipe_leaves_nothing.py::test_wipe_leaves_no_trace_of_the_patient_anywhere",),
    "D20 --password-file FIFO or /dev/zero": (
        "desk/test_desk_serve.py::test_password_file_fifo_is_refused_at_once",
        "desk/test_desk_serve.py::test_password_file_device_is_refused"),
    "D21 --key-file FIFO": ("desk/test_desk_serve.py::test_key_file_fifo_is_refused_at_once",
                            "desk/test_desk_serve.py::test_secret_file_fifo_is_refused_at_once"),
    "D22 --port 99999, a port in use": ("desk/test_desk_serve.py::test_a_bad_port_is_exit_2_naming_it",
                                        "desk/test_desk_serve.py::test_a_port_in_use_is_a_plain_message"),
    "D24 a 600k-row reps.csv": (
        "desk/test_desk_bundle_attacks.py::test_d24_a_600k_row_reps_file_is_refused_early_in_bounded_memory",
        "desk/test_desk_bundle_attacks.py::test_d24_rows_past_the_limit_are_refused_in_bounded_memory"),
    "D25 plain HTTP off loopback": (
        "desk/test_desk_serve.py::test_remote_use_needs_tls_or_a_proxy",
        "desk/test_desk_serve.py::test_secure_cookie_when_asked",
        "desk/test_desk_serve.py::test_desk_serves_tls_with_a_secure_cookie"),
    "data folder: every command the same one": (
        "test_context.py::test_every_data_command_uses_the_settings_data_dir",
        "test_context.py::test_no_command_module_finds_the_data_folder_by_itself"),
}


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")}


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_every_defect_names_tests_that_exist(defect: str):
    for node in DEFECTS[defect]:
        file, name = node.split("::")
        assert name in _tests_in(TESTS / file), f"{defect}: {node} is gone"


def test_every_listed_defect_is_in_the_table():
    listed = {d.split()[0] for d in DEFECTS}
    assert listed >= {f"D{i}" for i in (*range(1, 23), 24, 25)}

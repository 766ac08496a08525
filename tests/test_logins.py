"""Login rules on the domain alone (a Hall on a real SQLite file, a FakeClock): how many PINs
anyone gets checked, whom a lock shuts out, and when a session ends."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from hall import auth, supervision
from hall.errors import HallError
from hall.store import scalar

A, B = "10.0.0.5", "10.0.0.9"  # the attacker's laptop and the clerk's counter


def code_of(call, *args, **kwargs) -> str:
    try:
        call(*args, **kwargs)
    except HallError as error:
        return error.code
    return "ok"


def counted_checks(monkeypatch) -> list[str]:
    """The PINs that reached the key derivation (the thing a guesser wants)."""
    checked: list[str] = []
    lock = threading.Lock()
    real = auth.verify_pin

    def counting(pin, pin_hash):
        with lock:
            checked.append(pin)
        return real(pin, pin_hash)

    monkeypatch.setattr(auth, "verify_pin", counting)
    return checked


def test_parallel_guesses_at_one_id_get_no_more_than_the_allowance_checked(hall, monkeypatch):
    checked = counted_checks(monkeypatch)
    pins = [f"{n:04d}" for n in range(40) if n != 1234]
    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(lambda pin: code_of(hall.login, "1001", pin, 1, address=A), pins))
    assert codes.count("unauthorized") <= auth.MAX_PIN_FAILURES
    assert len(checked) <= auth.MAX_PIN_FAILURES
    assert set(codes) <= {"unauthorized", "locked", "too_many_attempts", "busy"}
    assert code_of(hall.login, "1001", "1234", 1, address=A) == "locked"


def test_a_failure_after_the_lock_never_clears_it(hall, clock):
    for _ in range(auth.MAX_PIN_FAILURES):
        assert code_of(hall.login, "1001", "0000", 1, address=A) == "unauthorized"
    for _ in range(3):
        assert code_of(hall.login, "1001", "0000", 1, address=A) == "locked"
    clock.advance(minutes=4)
    assert code_of(hall.login, "1001", "1234", 1, address=A) == "locked"
    clock.advance(minutes=1, seconds=1)
    assert code_of(hall.login, "1001", "1234", 1, address=A) == "ok"


def test_a_lock_shuts_out_only_the_address_that_failed(hall):
    for _ in range(auth.MAX_PIN_FAILURES):
        code_of(hall.login, "1001", "0000", 1, address=A)
    assert code_of(hall.login, "1001", "1234", 1, address=A) == "locked"
    assert hall.login("1001", "1234", 1, address=B)["staff"]["id"] == "1001"


def test_one_address_gets_ten_failures_a_minute_then_waits_longer_each_time(hall, clock,
                                                                          monkeypatch):
    checked = counted_checks(monkeypatch)
    ids = [f"{n}" for n in range(2000, 2030)]
    codes = [code_of(hall.login, staff_id, "1111", address=A) for staff_id in ids]
    assert codes[:auth.MAX_ADDRESS_FAILURES] == ["unauthorized"] * auth.MAX_ADDRESS_FAILURES
    assert set(codes[auth.MAX_ADDRESS_FAILURES:]) == {"too_many_attempts"}
    assert len(checked) == auth.MAX_ADDRESS_FAILURES
    # a real clerk's right PIN from that address waits too; from her own address it works
    assert code_of(hall.login, "1002", "2345", 2, address=A) == "too_many_attempts"
    assert code_of(hall.login, "1002", "2345", 2, address=B) == "ok"
    clock.advance(minutes=1, seconds=1)
    for n in range(auth.MAX_ADDRESS_FAILURES):
        assert code_of(hall.login, f"29{n:02d}", "1111", address=A) == "unauthorized"
    clock.advance(minutes=1, seconds=1)  # the second block lasts two minutes
    assert code_of(hall.login, "2999", "1111", address=A) == "too_many_attempts"
    clock.advance(minutes=1)
    assert code_of(hall.login, "2999", "1111", address=A) == "unauthorized"


def test_the_retry_after_says_how_long(hall):
    for _ in range(auth.MAX_PIN_FAILURES):
        code_of(hall.login, "1001", "0000", 1, address=A)
    with pytest.raises(HallError) as info:
        hall.login("1001", "1234", 1, address=A)
    assert 290 <= info.value.extra["retry_after"] <= 300


def test_an_unknown_id_and_a_wrong_pin_get_the_same_answer(hall):
    answers = []
    for staff_id, window in (("7777", 1), ("1001", 1), ("1001", None), ("9001", None)):
        with pytest.raises(HallError) as info:
            hall.login(staff_id, "0001", window, address=A)
        answers.append(info.value.as_json())
    assert all(a == answers[0] for a in answers), answers
    assert answers[0]["error"]["code"] == "unauthorized"


def test_unknown_ids_lock_like_real_ones(hall):
    """Else a lock (or its absence) would tell which ids are real."""
    for staff_id, address in (("7777", A), ("1001", B)):
        codes = [code_of(hall.login, staff_id, "0001", 1, address=address)
                 for _ in range(auth.MAX_PIN_FAILURES + 1)]
        assert codes[-1] == "locked"


@pytest.mark.parametrize("staff_id, pin", [
    ("x" * 33, "1234"), ("1001", "1" * 13), ("1001", "12a4"), ("1001", "１２３４"),
    (1001, "1234"), ("1001", None), ("", "1234"), ("1001", ""),
])
def test_strings_are_bounded_before_anything_is_written(hall, staff_id, pin):
    assert code_of(hall.login, staff_id, pin, 1, address=A) == "bad_request"
    assert scalar(hall.store.db, "SELECT count(*) FROM login_failures") == 0


def test_unknown_ids_write_bounded_rows(hall, clock, monkeypatch):
    monkeypatch.setattr(auth, "MAX_FAILURE_ROWS", 100)
    for n in range(150):
        code_of(hall.login, f"{n:032d}", "1111", address=f"10.1.{n // 250}.{n % 250}")
    longest = scalar(hall.store.db, "SELECT max(length(staff_id)) FROM login_failures")
    assert longest == 32
    hall.tick()
    rows = scalar(hall.store.db, "SELECT count(*) FROM login_failures")
    assert rows <= auth.MAX_FAILURE_ROWS
    clock.advance(minutes=61)
    hall.tick()
    assert scalar(hall.store.db, "SELECT count(*) FROM login_failures") == 0
    assert scalar(hall.store.db, "SELECT count(*) FROM address_failures") == 0


def test_a_success_undoes_its_own_attempt(hall):
    for _ in range(auth.MAX_PIN_FAILURES - 1):
        code_of(hall.login, "1001", "0000", 1, address=A)
    hall.login("1001", "1234", 1, address=A)
    for _ in range(auth.MAX_PIN_FAILURES - 1):
        assert code_of(hall.login, "1001", "0000", 1, address=A) == "unauthorized"


def test_the_supervisor_sees_lockouts_and_lifts_them(hall):
    seen = []
    hall.subscribe(seen.extend)
    sup = hall.authenticate(hall.login("9001", "9999", address=B)["token"])
    for _ in range(auth.MAX_PIN_FAILURES):
        code_of(hall.login, "1001", "0000", 1, address=A)
    assert ("lockouts", 1) in [(e, p.get("count")) for e, p in seen]
    lockouts = supervision.dashboard(hall, sup)["lockouts"]
    assert [(x["staff_id"], x["address"]) for x in lockouts] == [("1001", A)]
    clerk = hall.authenticate(hall.login("1002", "2345", 2, address=B)["token"])
    assert code_of(supervision.COMMANDS["unlock"], hall, clerk,
                   {"staff_id": "1001", "address": A}) == "forbidden"
    supervision.COMMANDS["unlock"](hall, sup, {"staff_id": "1001", "address": A})
    assert supervision.dashboard(hall, sup)["lockouts"] == []
    assert seen[-1][0] == "lockouts" and seen[-1][1]["count"] == 0
    assert hall.login("1001", "1234", 1, address=A)["staff"]["id"] == "1001"


def test_the_supervisor_lifts_an_address_block(hall):
    sup = hall.authenticate(hall.login("9001", "9999", address=B)["token"])
    for n in range(auth.MAX_ADDRESS_FAILURES):
        code_of(hall.login, f"30{n:02d}", "1111", address=A)
    lockouts = supervision.dashboard(hall, sup)["lockouts"]
    assert {"staff_id": None, "address": A} in [
        {k: x[k] for k in ("staff_id", "address")} for x in lockouts]
    supervision.COMMANDS["unlock"](hall, sup, {"address": A})
    assert hall.login("1001", "1234", 1, address=A)


def test_a_pin_reset_lifts_the_locks_of_that_id(hall):
    admin = hall.authenticate(hall.login("9000", "0000", address=B)["token"])
    for _ in range(auth.MAX_PIN_FAILURES):
        code_of(hall.login, "1001", "0000", 1, address=A)
    supervision.COMMANDS["staff-reset-pin"](hall, admin, {"id": "1001", "pin": "4321"})
    assert hall.login("1001", "4321", 1, address=A)


# -- sessions ------------------------------------------------------------------------------
def test_a_clerks_session_ends_with_the_hall_day(hall, clock):
    token = hall.login("1001", "1234", 1)["token"]
    clock.set("2026-11-23 23:59")
    assert hall.authenticate(token) is not None
    clock.set("2026-11-24 00:00:01")
    assert hall.authenticate(token) is None


def test_a_supervisors_session_ends_after_the_configured_hours(hall, clock):
    assert hall.config.rules.supervisor_session_hours == 12
    token = hall.login("9001", "9999")["token"]
    clock.advance(minutes=12 * 60 - 1)
    assert hall.authenticate(token) is not None
    clock.advance(minutes=2)
    assert hall.authenticate(token) is None


@pytest.mark.parametrize("ending", ["logout", "staff-disable", "staff-reset-pin"])
def test_ending_a_session_is_seen_by_the_cheap_check(hall, ending):
    admin = hall.authenticate(hall.login("9000", "0000")["token"])
    token = hall.login("1001", "1234", 1)["token"]
    clerk = hall.authenticate(token)
    ended = []
    hall.on_sessions_ended(lambda: ended.append(True))
    assert hall.session_alive(clerk)
    if ending == "logout":
        hall.logout(token)
    else:
        supervision.COMMANDS[ending](hall, admin, {"id": "1001", "pin": "4321"})
    assert not hall.session_alive(clerk)
    assert hall.authenticate(token) is None
    assert ended


def test_beyond_the_kdf_slots_a_login_is_busy_at_once_and_counts_nothing(hall):
    slots = auth.KDF_THREADS + auth.KDF_WAITING
    for _ in range(slots):
        assert auth._kdf_slots.acquire(blocking=False)
    try:
        with pytest.raises(HallError) as info:
            hall.login("1001", "1234", 1, address=A)
        assert info.value.code == "busy" and info.value.extra["retry_after"] >= 1
        assert scalar(hall.store.db, "SELECT count(*) FROM login_failures") == 0
    finally:
        for _ in range(slots):
            auth._kdf_slots.release()
    assert hall.login("1001", "1234", 1, address=A)


def test_an_old_hash_verifies_and_is_rewritten_with_the_new_parameters(hall):
    old = "scrypt$16384$8$1$opBZRfWaV/MWz96f5LIAYQ==$A83ZzJks0urEAFazZB41v6+ilFMTM3wu+/82oZTb" \
          "4I6Tjli4uAcuOiuMK/MaDkrZ6kJSS6+jbKYsv2e9I6odEg=="  # PIN 1234, the earlier demo's
    with hall.store.write() as db:
        db.execute("UPDATE staff SET pin_hash = ? WHERE id = '1001'", [old])
    assert auth.needs_rehash(old)
    hall.login("1001", "1234", 1, address=A)
    new = scalar(hall.store.db, "SELECT pin_hash FROM staff WHERE id = '1001'")
    assert new.startswith("scrypt$8192$8$1$") and auth.verify_pin("1234", new)


def test_a_hash_that_asks_for_too_much_memory_is_refused_not_computed():
    assert not auth.verify_pin("1234", "scrypt$1048576$8$1$AAAA$AAAA")


def test_guessing_one_id_from_many_addresses_stops_but_not_at_her_counter(hall):
    hall.login("1001", "1234", 1, address=B)  # her counter, known for her id
    codes = [code_of(hall.login, "1001", f"{n:04d}", 1, address=f"10.2.0.{n}")
             for n in range(40)]
    assert codes.count("unauthorized") == auth.MAX_ID_FAILURES
    assert set(codes[auth.MAX_ID_FAILURES:]) == {"locked"}
    assert code_of(hall.login, "1001", "1234", 1, address="10.3.0.1") == "locked"
    assert hall.login("1001", "1234", 1, address=B)["staff"]["id"] == "1001"
    sup = hall.authenticate(hall.login("9001", "9999", address=B)["token"])
    lockouts = supervision.dashboard(hall, sup)["lockouts"]
    assert {"staff_id": "1001", "address": None} in [
        {k: x[k] for k in ("staff_id", "address")} for x in lockouts]
    supervision.COMMANDS["unlock"](hall, sup, {"staff_id": "1001"})
    assert hall.login("1001", "1234", 1, address="10.3.0.1")


def test_one_ipv6_host_counts_as_one_address_whatever_address_of_its_64_it_takes(hall):
    codes = [code_of(hall.login, f"40{n:02d}", "1111", address=f"fd00:1:2:3::{n + 1:x}")
             for n in range(auth.MAX_ADDRESS_FAILURES + 1)]
    assert codes[-1] == "too_many_attempts"
    assert code_of(hall.login, "1001", "1234", 1, address="::ffff:10.0.0.9") == "ok"
    assert code_of(hall.login, "1002", "2345", 2, address="fd00:1:2:4::1") == "ok"


def test_the_backoff_keeps_growing_until_an_hour_of_calm(hall, clock):
    def fail_ten() -> None:
        for n in range(auth.MAX_ADDRESS_FAILURES):
            assert code_of(hall.login, f"50{n:02d}", "1111", address=A) == "unauthorized"

    blocks = [1, 2, 4, 8, 16, 32, 60, 60]
    for minutes in blocks:
        fail_ten()
        clock.advance(minutes=minutes - 0.1)
        hall.tick()  # pruning must not forget the strikes
        assert code_of(hall.login, "5099", "1111", address=A) == "too_many_attempts"
        clock.advance(minutes=0.2)
    clock.advance(minutes=61)
    fail_ten()
    clock.advance(minutes=1.1)
    assert code_of(hall.login, "5099", "1111", address=A) == "unauthorized"


def test_the_id_wide_lock_lasts_until_the_hour_of_its_first_failure_is_over(hall, clock):
    for n in range(auth.MAX_ID_FAILURES):
        clock.advance(minutes=2)  # slow enough for every per-address limit
        assert code_of(hall.login, "1003", "0000", 3, address=f"10.4.0.{n}") == "unauthorized"
    assert code_of(hall.login, "1003", "3456", 3, address="10.4.1.1") == "locked"
    clock.set("2026-11-23 10:31:59")
    assert code_of(hall.login, "1003", "3456", 3, address="10.4.1.1") == "locked"
    clock.set("2026-11-23 10:32:01")  # the hour that began with the first failure is over
    assert code_of(hall.login, "1003", "3456", 3, address="10.4.1.1") == "ok"

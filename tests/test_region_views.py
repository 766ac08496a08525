"""The people's side of hallq-region, on a real PostgreSQL and the real server on loopback:
region users and their hardened login, the admin's halls and users, the live view over
Socket.IO (with a real ingest feeding it), alerts, and reports across halls from daily_*."""

from __future__ import annotations

import csv
import io
import itertools
import json
import threading
import time

import psycopg
import pytest
import requests
import socketio
from pg_support import RegionProcess
from support import wait_until

from region import db

_names = itertools.count(1)


@pytest.fixture(scope="module")
def region(postgres, tmp_path_factory):
    server = RegionProcess(postgres.fresh_database(), tmp_path_factory.mktemp("regionviews"))
    server.start()
    done = server.cli("add-user", "boss", "--admin", "--name", "区域管理员")
    assert done.returncode == 0, done.stderr
    server.admin_password = done.stdout.strip()
    yield server
    server.stop()


def login(region, user: str, password: str) -> requests.Response:
    return region.post("/api/login", {"user": user, "password": password})


def token_of(region, user: str, password: str) -> str:
    r = login(region, user, password)
    assert r.status_code == 200, r.text
    return r.json()["token"]


@pytest.fixture(scope="module")
def admin(region) -> str:
    return token_of(region, "boss", region.admin_password)


def call(region, method: str, path: str, token: str | None = None, body=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.request(method, region.url + path, json=body, headers=headers, timeout=10)


def new_hall(region, admin: str) -> tuple[str, str]:
    hall_id = f"h{next(_names)}"
    r = call(region, "POST", "/api/halls", admin, {"id": hall_id, "name": f"{hall_id} 营业厅"})
    assert r.status_code == 201, r.text
    return hall_id, r.json()["token"]


def new_supervisor(region, admin: str, halls: list[str]) -> tuple[str, str]:
    user = f"sup{next(_names)}"
    password = "s3cret-pass-" + user
    r = call(region, "POST", "/api/users", admin, {"id": user, "name": "李主任", "role":
                                                   "supervisor", "password": password,
                                                   "halls": halls})
    assert r.status_code == 201, r.text
    return user, token_of(region, user, password)


# -- users and login ---------------------------------------------------------------------------
def test_the_first_admin_comes_from_the_command_line_with_a_generated_password(region):
    assert len(region.admin_password) >= 12 and region.admin_password != "admin"
    again = region.cli("add-user", "boss", "--admin")
    assert again.returncode == 1 and "already" in again.stderr
    with psycopg.connect(region.dsn) as conn:
        stored = conn.execute("SELECT password_hash FROM region_users WHERE id = 'boss'"
                              ).fetchone()[0]
    assert stored.startswith("scrypt$") and region.admin_password not in stored
    assert login(region, "admin", "admin").status_code == 401  # there is no default admin


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer_then_a_lock(region, admin):
    user, _ = new_supervisor(region, admin, [])
    wrong = login(region, user, "not-the-password")
    unknown = login(region, "nobody-here", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    for _ in range(4):  # the fifth wrong one from this address sets the lock
        assert login(region, user, "not-the-password").status_code == 401
    locked = login(region, user, "not-the-password")
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "locked"
    assert int(locked.headers["Retry-After"]) > 0
    right = login(region, user, "s3cret-pass-" + user)
    assert right.status_code == 429  # the right password too, until the lock ends
    with psycopg.connect(region.dsn) as conn:
        assert conn.execute("SELECT failures FROM login_failures WHERE staff_id = %s",
                            [user]).fetchone()[0] == 5
        # The address's own count is near its block: the other tests log in from here too.
        conn.execute("DELETE FROM address_failures")


def test_login_refuses_bad_fields_and_cross_site_requests_without_counting(region):
    for body in ({"user": "x" * 33, "password": "p"}, {"user": "boss", "password": 5},
                 {"user": "boss", "password": "p" * 129}, {}):
        r = region.post("/api/login", body)
        assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request", body
    plain = requests.post(region.url + "/api/login", data='{"user": "boss", "password": "x"}',
                          headers={"Content-Type": "text/plain"}, timeout=10)
    assert plain.status_code == 415
    foreign = requests.post(region.url + "/api/login", json={"user": "boss", "password": "x"},
                            headers={"Origin": "https://evil.example"}, timeout=10)
    assert foreign.status_code == 403
    with psycopg.connect(region.dsn) as conn:
        assert conn.execute("SELECT count(*) FROM login_failures WHERE staff_id = 'boss'"
                            ).fetchone()[0] == 0
    page = region.get("/")
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "<script>" not in page.text  # no inline script: only files from this server
    assert region.get("/vendor/socket.io.min.js").status_code == 200


def test_sessions_end_at_logout_at_expiry_and_when_the_user_is_disabled(region, admin):
    user, token = new_supervisor(region, admin, [])
    assert call(region, "GET", "/api/me", token).json()["user"]["role"] == "supervisor"
    assert call(region, "POST", "/api/logout", token).status_code == 200
    assert call(region, "GET", "/api/me", token).status_code == 401

    token = token_of(region, user, "s3cret-pass-" + user)
    with psycopg.connect(region.dsn) as conn:
        conn.execute("UPDATE region_sessions SET expires_at = 0 WHERE user_id = %s", [user])
    assert call(region, "GET", "/api/me", token).status_code == 401

    token = token_of(region, user, "s3cret-pass-" + user)
    r = call(region, "PATCH", f"/api/users/{user}", admin, {"disabled": True})
    assert r.status_code == 200 and r.json()["user"]["disabled"] is True
    assert call(region, "GET", "/api/me", token).status_code == 401
    assert login(region, user, "s3cret-pass-" + user).status_code == 401


def test_only_the_admin_manages_halls_and_users_and_bad_input_changes_nothing(region, admin):
    hall_id, token = new_hall(region, admin)
    _, sup = new_supervisor(region, admin, [hall_id])
    assert call(region, "GET", "/api/users", sup).status_code == 403
    assert call(region, "POST", "/api/halls", sup, {"id": "x1", "name": "x"}).status_code == 403
    assert call(region, "PATCH", f"/api/halls/{hall_id}", sup, {"name": "y"}).status_code == 403
    assert [h["id"] for h in call(region, "GET", "/api/halls", sup).json()["halls"]] == [hall_id]

    renamed = call(region, "PATCH", f"/api/halls/{hall_id}", admin, {"name": "城东营业厅"})
    assert renamed.json()["hall"]["name"] == "城东营业厅"
    for body in ({"name": ""}, {"disabled": "yes"}, {"colour": "red"}):
        assert call(region, "PATCH", f"/api/halls/{hall_id}", admin, body).status_code == 400
    assert call(region, "POST", "/api/halls", admin, {"id": "Bad Id", "name": "x"}
                ).status_code == 400
    assert call(region, "POST", "/api/halls", admin, {"id": hall_id, "name": "x"}
                ).status_code == 409
    assert call(region, "POST", "/api/users", admin, {"id": "short", "name": "x", "role":
                                                      "supervisor", "password": "123"}
                ).status_code == 400
    assert call(region, "POST", "/api/users", admin, {"id": "ghost", "name": "x", "role":
                                                      "supervisor", "password": "long-enough-1",
                                                      "halls": ["no-such-hall"]}
                ).status_code == 404
    assert call(region, "PATCH", "/api/users/boss", admin, {"role": "supervisor"}
                ).json()["error"]["code"] == "last_admin"
    with psycopg.connect(region.dsn) as conn:
        assert conn.execute("SELECT name FROM halls WHERE id = %s", [hall_id]
                            ).fetchone()[0] == "城东营业厅"
        assert conn.execute("SELECT role FROM region_users WHERE id = 'boss'"
                            ).fetchone()[0] == "admin"
        assert conn.execute("SELECT count(*) FROM region_users WHERE id = 'ghost'"
                            ).fetchone()[0] == 0

    batch = {"hall_id": hall_id, "epoch": "e1", "events": []}
    assert region.post("/api/ingest", batch, token=token).status_code == 200
    new = call(region, "POST", f"/api/halls/{hall_id}/token", admin).json()["token"]
    assert region.post("/api/ingest", batch, token=token).status_code == 401  # the old one
    assert region.post("/api/ingest", batch, token=new).status_code == 200
    call(region, "PATCH", f"/api/halls/{hall_id}", admin, {"disabled": True})
    assert region.post("/api/ingest", batch, token=new).status_code == 401


# -- the live view -----------------------------------------------------------------------------
def status(waiting: int = 3, longest: float = 5, estimate: float = 8, target: float = 20,
           overdue: int = 0, offline: tuple = ()) -> dict:
    """A hall's heartbeat status as hall/shipping.status_summary makes it."""
    return {"seq": 1, "now": time.time(), "day": "2026-11-23", "open": True, "issuing": True,
            "issuing_reason": None, "waiting": waiting, "longest_wait_min": longest,
            "services": [{"id": "pay", "waiting": waiting, "longest_wait_min": longest,
                          "estimated_wait_min": estimate, "target_wait_minutes": target}],
            "windows": {"total": 4, "open": 3, "away": 1 if overdue else 0, "overdue": overdue},
            "devices": {"total": 3, "offline": list(offline)}}


def ship(region, hall_id: str, token: str, **kw) -> None:
    batch = {"hall_id": hall_id, "epoch": "e1", "events": [], "status": status(**kw),
             "services": [{"id": "pay", "name": {"zh": "缴费", "en": "Payment"},
                           "target_wait_minutes": 20}]}
    r = region.post("/api/ingest", batch, token=token)
    assert r.status_code == 200, r.text


class Watcher:
    """A Socket.IO client of the live view, as the page is."""

    def __init__(self, region, token: str | None) -> None:
        self.client = socketio.Client(reconnection=False)
        self.updates: list[dict] = []
        self.gone = threading.Event()
        self.client.on("hall", self.updates.append)
        self.client.on("disconnect", lambda *_: self.gone.set())
        self.client.connect(region.url, auth={"token": token}, transports=["websocket"],
                            wait_timeout=5)

    def ask(self, event: str, body=None) -> dict:
        return self.client.call(event, body if body is not None else {}, timeout=5)

    def close(self) -> None:
        self.client.disconnect()


def test_the_live_view_shows_each_users_halls_and_updates_within_two_seconds(region, admin):
    east, east_token = new_hall(region, admin)
    west, west_token = new_hall(region, admin)
    ship(region, east, east_token)
    _, sup = new_supervisor(region, admin, [east])
    watcher = Watcher(region, sup)
    try:
        snapshot = watcher.ask("overview")
        assert [h["id"] for h in snapshot["halls"]] == [east]  # not west
        row = snapshot["halls"][0]
        assert row["status"]["services"][0]["name"] == {"zh": "缴费", "en": "Payment"}
        assert row["alerts"] == []

        ship(region, east, east_token, waiting=9, longest=31, estimate=25, overdue=1,
             offline=("kiosk-1",))
        ship(region, west, west_token)
        wait_until(lambda: any(u["hall_id"] == east and u["status"]["waiting"] == 9
                               for u in watcher.updates), timeout=10)
        answer = watcher.ask("overview", {"halls": [east, west]})
        assert answer["status"] == 200 and [h["id"] for h in answer["halls"]] == [east]
        kinds = {a["kind"] for a in answer["alerts"]}
        assert kinds == {"wait_over_target", "predicted_over_target", "away_overdue"}
        assert answer["halls"][0]["status"]["devices"]["offline"] == ["kiosk-1"]
        assert not any(u["hall_id"] == west for u in watcher.updates)

        assert watcher.ask("detail", {"hall_id": west})["error"]["code"] == "not_found"
        detail = watcher.ask("detail", {"hall_id": east})
        assert detail["hall"]["id"] == east and detail["day"] == "2026-11-23"
        assert watcher.ask("overview", "nonsense")["error"]["code"] == "bad_request"
    finally:
        watcher.close()


def test_a_silent_and_a_diverged_hall_are_alerts(region, admin):
    quiet, _ = new_hall(region, admin)
    loud, loud_token = new_hall(region, admin)
    ship(region, loud, loud_token)
    with psycopg.connect(region.dsn) as conn:
        conn.execute("UPDATE hall_links SET last_contact_at = now() - interval '11 minutes',"
                     " diverged_at_seq = 7, diverged_detail = 'seq 7 differs' WHERE hall_id = %s",
                     [loud])
    watcher = Watcher(region, admin)
    try:
        rows = {h["id"]: h for h in watcher.ask("overview", {"halls": [quiet, loud]})["halls"]}
        assert [a["kind"] for a in rows[quiet]["alerts"]] == ["silent"]  # never heard from
        assert {a["kind"] for a in rows[loud]["alerts"]} == {"silent", "diverged"}
        assert rows[loud]["link"]["silent_minutes"] >= 11
    finally:
        watcher.close()


def test_sockets_need_a_session_and_are_dropped_when_it_ends(region, admin):
    with pytest.raises(socketio.exceptions.ConnectionError):
        Watcher(region, None)
    with pytest.raises(socketio.exceptions.ConnectionError):
        Watcher(region, "made-up-token")
    user, token = new_supervisor(region, admin, [])
    watcher = Watcher(region, token)
    try:
        assert watcher.ask("overview")["status"] == 200
        with psycopg.connect(region.dsn) as conn:  # ended behind the socket's back
            conn.execute("UPDATE region_sessions SET expires_at = 0 WHERE user_id = %s", [user])
        assert watcher.ask("overview")["error"]["code"] == "unauthorized"
    finally:
        watcher.close()
    token = token_of(region, user, "s3cret-pass-" + user)
    watcher = Watcher(region, token)
    try:
        call(region, "POST", "/api/logout", token)
        assert watcher.gone.wait(5)
    finally:
        watcher.close()


def test_a_supervisor_given_other_halls_is_reconnected_into_them(region, admin):
    east, east_token = new_hall(region, admin)
    west, west_token = new_hall(region, admin)
    user, token = new_supervisor(region, admin, [east])
    watcher = Watcher(region, token)
    try:
        r = call(region, "PATCH", f"/api/users/{user}", admin, {"halls": [west]})
        assert r.status_code == 200 and r.json()["user"]["halls"] == [west]
        assert watcher.gone.wait(5)  # its rooms were east's
    finally:
        watcher.close()
    watcher = Watcher(region, token)  # the session lives on: the page reconnects
    try:
        ship(region, east, east_token)
        ship(region, west, west_token)
        wait_until(lambda: any(u["hall_id"] == west for u in watcher.updates), timeout=2)
        assert not any(u["hall_id"] == east for u in watcher.updates)
        assert [h["id"] for h in watcher.ask("overview")["halls"]] == [west]
    finally:
        watcher.close()


# -- reports -----------------------------------------------------------------------------------
def fill(conn: psycopg.Connection, hall_id: str, day: str, service: str, *, issued: int,
         waits_min: list[int], target_within: int, ratings: list[int]) -> None:
    hist = [0] * 121
    for w in waits_min:
        hist[min(w, 120)] += 1
    rated = [0] * 5
    for score in ratings:
        rated[score - 1] += 1
    conn.execute(
        "INSERT INTO daily_service (hall_id, day, service_id, issued, served, no_show,"
        " wait_count, wait_sum_s, wait_within_target, wait_hist, handling_count,"
        " handling_sum_s, rating_count, rating_sum, ratings, estimate_count, estimate_within,"
        " appointments_booked, appointments_checked_in) VALUES (%s, %s, %s, %s, %s, 1, %s, %s,"
        " %s, %s, %s, %s, %s, %s, %s, 2, 1, 3, 2)",
        [hall_id, day, service, issued, issued - 1, len(waits_min),
         sum(w * 60 + 30 for w in waits_min), target_within, hist, issued - 1,
         (issued - 1) * 300, len(ratings), sum(ratings), rated])
    conn.execute("INSERT INTO daily_hall (hall_id, day, away_count, away_sum_s, away_overdue)"
                 " VALUES (%s, %s, 2, 900, 1) ON CONFLICT (hall_id, day) DO UPDATE SET"
                 " away_count = daily_hall.away_count + 2", [hall_id, day])


def test_reports_across_halls_per_hall_service_day_and_month_with_ranking_and_csv(
        region, admin):
    good, _ = new_hall(region, admin)
    slow, _ = new_hall(region, admin)
    with db.connect(region.dsn) as conn:
        conn.execute("INSERT INTO hall_services VALUES (%s, 'pay', '{\"zh\": \"缴费\","
                     " \"en\": \"Payment\"}', 20)", [good])
        fill(conn, good, "2026-10-05", "pay", issued=10, waits_min=[1, 2, 3, 4, 5, 6, 7, 8, 9,
                                                                   30],
             target_within=9, ratings=[5, 5, 4, 3])
        fill(conn, good, "2026-10-06", "account", issued=4, waits_min=[2, 2, 2],
             target_within=3, ratings=[5])
        fill(conn, slow, "2026-10-05", "pay", issued=6, waits_min=[25, 26, 40, 50, 61],
             target_within=0, ratings=[1, 2])
        fill(conn, slow, "2026-11-01", "pay", issued=99, waits_min=[1], target_within=1,
             ratings=[5])
        conn.commit()
    _, sup = new_supervisor(region, admin, [good])
    q = "from=2026-10-01&to=2026-10-31"

    by_hall = call(region, "GET", f"/api/reports?{q}&by=hall&hall={good}&hall={slow}",
                   admin).json()
    rows = {r["key"]: r for r in by_hall["rows"]}
    g = rows[good]
    assert (g["issued"], g["served"], g["no_show"], g["waited"]) == (14, 12, 2, 13)
    assert g["within_target"] == round(12 / 13, 4)
    assert g["wait_p90_min"] == 10  # the 12th of 13 waits is in [9, 10) min
    assert g["satisfaction"] == 0.8 and g["rated"] == 5
    assert g["away_count"] == 4 and g["away_overdue"] == 2
    assert g["promised"] == 4 and g["promise_within"] == 0.5
    assert g["appointments_booked"] == 6
    assert by_hall["total"]["issued"] == 20  # October only: not slow's November

    by_month = call(region, "GET", f"/api/reports?from=2026-10-01&to=2026-11-30&by=month"
                    f"&hall={slow}", admin).json()
    assert [(r["key"], r["issued"]) for r in by_month["rows"]] == [("2026-10", 6),
                                                                    ("2026-11", 99)]
    by_service = call(region, "GET", f"/api/reports?{q}&by=service&hall={good}", admin).json()
    assert [(r["key"], r["name"]["zh"], r["issued"]) for r in by_service["rows"]] == [
        ("account", "account", 4), ("pay", "缴费", 10)]
    by_day = call(region, "GET", f"/api/reports?{q}&by=day&hall={good}", admin).json()
    assert [r["key"] for r in by_day["rows"]] == ["2026-10-05", "2026-10-06"]

    ranking = call(region, "GET", f"/api/ranking?{q}&rank_by=within_target&hall={good}"
                   f"&hall={slow}", admin).json()
    assert [(r["rank"], r["key"]) for r in ranking["rows"]] == [(1, good), (2, slow)]
    assert "达标率" in ranking["ranks_by"]
    by_wait = call(region, "GET", f"/api/ranking?{q}&rank_by=wait_mean_min&hall={good}"
                   f"&hall={slow}", admin).json()
    assert by_wait["rows"][0]["key"] == good

    mine = call(region, "GET", f"/api/reports?{q}&by=hall", sup).json()
    assert [r["key"] for r in mine["rows"]] == [good]  # a supervisor's halls only
    assert call(region, "GET", f"/api/reports?{q}&hall={slow}", sup).status_code == 404
    for bad in ("from=2026-10-31&to=2026-10-01", "from=yesterday", f"{q}&by=clerk",
                "from=2020-01-01&to=2026-01-01"):
        r = call(region, "GET", f"/api/reports?{bad}", admin)
        assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request", bad
    assert call(region, "GET", f"/api/reports?{q}").status_code == 401

    r = call(region, "GET", f"/api/reports.csv?{q}&by=hall&hall={good}", admin)
    assert r.headers["Content-Type"].startswith("text/csv")
    assert r.content.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert table[0][:4] == ["维度 dimension", "项目 key", "名称 name", "取号 issued"]
    assert table[1][0] == "合计 total" and table[2][:4] == ["营业厅 hall", good,
                                                          f"{good} 营业厅", "14"]


def test_a_month_across_500_halls_adds_up(region, admin):
    """A month of 500 halls x 7 services (105,000 rows of daily_service, beside another month's),
    through the HTTP API as the page asks for it. How fast (issue 18: within 2 s) is measured by
    bench/bench_region.py, which prints it."""
    with db.connect(region.dsn) as conn:
        conn.execute("INSERT INTO halls (id, name, token_sha256) SELECT 'm' || i, '营业厅' || i,"
                     " sha256(i::text::bytea) FROM generate_series(1, 500) i")
        for month, issued in (("2025-03", 100), ("2025-04", 1)):
            conn.execute(
                "INSERT INTO daily_service (hall_id, day, service_id, issued, served,"
                " wait_count, wait_sum_s, wait_within_target, wait_hist, rating_count, ratings,"
                " estimate_count, estimate_err_hist) SELECT 'm' || h, d::date, 's' || s, %s, 90,"
                " 90, 54000, 80, array_fill(1, ARRAY[121]), 20, ARRAY[1, 2, 3, 5, 9], 50,"
                " array_fill(1, ARRAY[61]) FROM generate_series(1, 500) h,"
                " generate_series(%s::date, %s::date + interval '1 month' - interval '1 day',"
                " '1 day') d, generate_series(1, 7) s",
                [issued, f"{month}-01", f"{month}-01"])
        conn.execute("INSERT INTO daily_hall SELECT 'm' || h, d::date, 3, 600, 1"
                     " FROM generate_series(1, 500) h, generate_series('2025-03-01'::date,"
                     " '2025-03-31'::date, '1 day') d")
        conn.commit()
    with psycopg.connect(region.dsn, autocommit=True) as conn:
        conn.execute("ANALYZE daily_service")
        conn.execute("ANALYZE daily_hall")
    for path in ("/api/reports?from=2025-03-01&to=2025-03-31&by=hall",
                 "/api/reports?from=2025-03-01&to=2025-03-31&by=day",
                 "/api/ranking?from=2025-03-01&to=2025-03-31"):
        r = call(region, "GET", path, admin)
        assert r.status_code == 200, r.text
    assert len(r.json()["rows"]) == 500
    total = call(region, "GET", "/api/reports?from=2025-03-01&to=2025-03-31&by=month",
                 admin).json()["total"]
    assert total["issued"] == 500 * 31 * 7 * 100 and total["wait_p90_min"] == 109


HOSTILE = [None, 0, -1, 2**63, 1.5, True, "", "x" * 5000, "\x00", "a\x00b", "\ud800", [],
           ["\x00"], {}, {"\x00": 1}, [[[[[[[[[["deep"]]]]]]]]]], "../..", "'; DROP TABLE halls;--",
           "<script>alert(1)</script>", "营业厅"]


def test_hostile_input_to_every_region_route_and_event_is_refused_cleanly(region, admin):
    """No 5xx, a JSON error, nothing changed: what the hall's hostile tests ask of it."""
    hall_id, _ = new_hall(region, admin)
    user, sup = new_supervisor(region, admin, [hall_id])

    def state() -> tuple:
        with psycopg.connect(region.dsn) as conn:
            return (conn.execute("SELECT id, name, disabled FROM halls ORDER BY id").fetchall(),
                    conn.execute("SELECT id, name, role, disabled FROM region_users ORDER BY id"
                                 ).fetchall())

    before = state()
    routes = [("POST", "/api/login", None), ("POST", "/api/users", admin),
              ("PATCH", f"/api/users/{user}", admin), ("POST", "/api/halls", admin),
              ("PATCH", f"/api/halls/{hall_id}", admin), ("POST", "/api/halls", sup)]
    for method, path, token in routes:
        for value in HOSTILE:
            for body in (value, {k: value for k in ("user", "password", "id", "name", "role",
                                                      "halls", "disabled")}):
                headers = {"Content-Type": "application/json"}
                if token:
                    headers["Authorization"] = f"Bearer {token}"
                raw = json.dumps(body, ensure_ascii=True) if not (
                    isinstance(body, str) and "\ud800" in body) else '"\\ud800"'
                r = requests.request(method, region.url + path, data=raw, headers=headers,
                                     timeout=10)
                assert r.status_code < 500, (method, path, body, r.text)
                if body != {}:  # an empty change is a valid one
                    assert r.status_code >= 400 and "error" in r.json(), (method, path, body)
    for path in ("/api/reports?from=%00", "/api/reports?from=2026-01-01&hall=%00",
                 "/api/halls/%00", "/api/users/%00", "/api/ranking?rank_by=%00",
                 "/api/reports?by=%F0%9F%98%80&from=2026-01-01", "/halls/%00",
                 "/api/reports.csv?from=2026-01-01&to=" + "9" * 400):
        for method in ("GET", "PATCH", "POST"):
            r = call(region, method, path, admin, {})
            assert r.status_code < 500, (method, path, r.text)
    watcher = Watcher(region, sup)
    try:
        for event in ("overview", "detail"):
            for value in HOSTILE:
                for body in (value, {"halls": value}, {"hall_id": value}):
                    answer = watcher.ask(event, body)
                    assert answer["status"] < 500, (event, body, answer)
        assert watcher.ask("overview")["status"] == 200  # the socket still answers
    finally:
        watcher.close()
    assert state() == before

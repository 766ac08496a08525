"""The report of one scripted day, every figure checked against values worked out by hand.

The day (hall 示范营业厅, 2026-11-23; window 1 = pay + enquiry, clerk 1001 王芳; window 3 =
account + transfer + usage, clerk 1003 张敏; service targets 20 min):

  08:50 1001 logs in at window 1        08:55 1003 logs in at window 3
  09:00 A001 issued   09:02 A002   09:05 B001
  09:10 W1 calls A001 (waited 10) · 09:11 start · 09:15 finish (handled 4) · 09:16 rated 5
  09:12 W3 calls B001 (waited 7)  · start      · 09:30 finish (handled 18) · 09:31 rated 4
  09:20 W1 calls A002 (waited 18) · recalled twice · 09:25 no-show
  09:40 A003 issued · 09:41 W1 calls it (waited 1) · 09:42 start · 09:45 transferred to account
  10:00 W3 calls A003 (its second call: no new wait) · start · 10:06 finish (handled 6)
        · 10:07 rated 3
  10:10 E001 issued (enquiry) · 10:15 cancelled by the supervisor
  10:20 A004 issued
  10:21 W1 away · 10:26 back (5 min)   10:30 W1 away · 10:40 overdue · 10:43 back (13 min)
  10:50 W1 calls A004 (waited 30, over target) · 10:51 start · 10:55 finish (4) · 10:56 rated 1
  13:00 1001 logs in again (first login stays 08:50)
  16:00 A005 issued, never called: expires when the next day begins
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys

import pytest
from support import KIOSK, ROOT, evaluator_token, migrated

from hall import supervision
from hall.reports import build_report, check_range, p90, report_csv

DAY = "2026-11-23"


@pytest.fixture
def day_report(hall, clock):
    script_day(hall, clock)
    clock.set("2026-11-24 08:00")
    hall.roll_over_day()  # A005 expires with reason day_end
    return build_report(hall.store, hall.config, DAY, DAY, clock())


def script_day(hall, clock) -> None:
    kiosk = hall.authenticate(KIOSK)

    def at(when: str) -> None:
        clock.set(f"{DAY} {when}")

    def login(staff: str, pin: str, window: int):
        return hall.authenticate(hall.login(staff, pin, window)["token"])

    def act(actor, window: int, name: str, **params):
        return hall.window_command(actor, window, name, params)

    def rate(window: int, score: int) -> None:
        hall.rate(hall.authenticate(evaluator_token(window)), window, score)

    at("08:50")
    w1 = login("1001", "1234", 1)
    at("08:55")
    w3 = login("1003", "3456", 3)
    supervisor = hall.authenticate(hall.login("9001", "9999")["token"])
    for when, service in (("09:00", "pay"), ("09:02", "pay"), ("09:05", "account")):
        at(when)
        hall.issue(kiosk, service)
    at("09:10")
    assert act(w1, 1, "call-next")["ticket"]["number"] == "A001"
    at("09:11")
    act(w1, 1, "start")
    at("09:12")
    assert act(w3, 3, "call-next")["ticket"]["number"] == "B001"
    act(w3, 3, "start")
    at("09:15")
    act(w1, 1, "finish")
    at("09:16")
    rate(1, 5)
    at("09:20")
    assert act(w1, 1, "call-next")["ticket"]["number"] == "A002"
    at("09:21")
    act(w1, 1, "recall")
    at("09:22")
    act(w1, 1, "recall")
    at("09:25")
    act(w1, 1, "no-show")
    at("09:30")
    act(w3, 3, "finish")
    at("09:31")
    rate(3, 4)
    at("09:40")
    hall.issue(kiosk, "pay")
    at("09:41")
    assert act(w1, 1, "call-next")["ticket"]["number"] == "A003"
    at("09:42")
    act(w1, 1, "start")
    at("09:45")
    act(w1, 1, "transfer", service="account")
    at("10:00")
    assert act(w3, 3, "call-next")["ticket"]["number"] == "A003"
    act(w3, 3, "start")
    at("10:06")
    act(w3, 3, "finish")
    at("10:07")
    rate(3, 3)
    at("10:10")
    hall.issue(kiosk, "enquiry")
    at("10:15")
    supervision.cancel_ticket(hall, supervisor, {"ticket": "E001", "reason": "客户离开"})
    at("10:20")
    hall.issue(kiosk, "pay")
    at("10:21")
    act(w1, 1, "away", reason="暂离")
    at("10:26")
    act(w1, 1, "back")
    at("10:30")
    act(w1, 1, "away", reason="会议")
    at("10:42")
    hall.tick()  # the overdue alert (limit 10 min, passed at 10:40)
    at("10:43")
    act(w1, 1, "back")
    at("10:50")
    assert act(w1, 1, "call-next")["ticket"]["number"] == "A004"
    at("10:51")
    act(w1, 1, "start")
    at("10:55")
    act(w1, 1, "finish")
    at("10:56")
    rate(1, 1)
    at("13:00")
    login("1001", "1234", 1)
    at("16:00")
    hall.issue(kiosk, "pay")


def figures(row: dict) -> dict:
    keys = ("issued", "served", "no_show", "transferred", "cancelled", "expired", "waited",
            "wait_mean_min", "wait_p90_min", "wait_max_min", "within_target", "handled",
            "handling_mean_min", "handling_p90_min", "away_count", "away_min", "away_overdue",
            "rated", "rating_5", "rating_4", "rating_3", "rating_2", "rating_1", "satisfaction")
    return {k: row[k] for k in keys}


def expect(issued=0, served=0, no_show=0, transferred=0, cancelled=0, expired=0, waits=(),
           within=None, handles=(), away=(), overdue=0, ratings=()) -> dict:
    """The figures of a row from the hand-listed minutes and scores."""
    waits, handles = sorted(waits), sorted(handles)
    rated = len(ratings)
    return {
        "issued": issued, "served": served, "no_show": no_show, "transferred": transferred,
        "cancelled": cancelled, "expired": expired, "waited": len(waits),
        "wait_mean_min": round(sum(waits) / len(waits), 2) if waits else None,
        "wait_p90_min": p90(waits), "wait_max_min": max(waits, default=None),
        "within_target": within, "handled": len(handles),
        "handling_mean_min": round(sum(handles) / len(handles), 2) if handles else None,
        "handling_p90_min": p90(handles),
        "away_count": len(away), "away_min": sum(away), "away_overdue": overdue,
        "rated": rated, **{f"rating_{s}": list(ratings).count(s) for s in (5, 4, 3, 2, 1)},
        "satisfaction": round(sum(s >= 4 for s in ratings) / rated, 4) if rated else None,
    }


def test_p90_is_the_nearest_rank():
    assert p90([]) is None
    assert p90([3]) == 3
    assert p90([1, 7, 10, 18, 30]) == 30  # rank ceil(4.5) = 5
    assert p90(list(range(1, 11))) == 9  # rank 9 of 10
    assert p90([4, 4, 6, 18]) == 18  # rank ceil(3.6) = 4


def test_total_and_day(day_report):
    total = expect(issued=7, served=4, no_show=1, transferred=1, cancelled=1, expired=1,
                   waits=[10, 7, 18, 1, 30], within=0.8, handles=[4, 18, 6, 4],
                   away=[5, 13], overdue=1, ratings=[5, 4, 3, 1])
    assert total["wait_mean_min"] == 13.2 and total["wait_p90_min"] == 30
    assert total["handling_mean_min"] == 8.0 and total["handling_p90_min"] == 18
    assert total["satisfaction"] == 0.5
    assert figures(day_report["total"]) == total
    assert [d["day"] for d in day_report["days"]] == [DAY]
    assert figures(day_report["days"][0]) == total


def test_per_service(day_report):
    rows = {r["service"]: figures(r) for r in day_report["services"]}
    assert rows["pay"] == expect(issued=5, served=2, no_show=1, transferred=1, expired=1,
                                 waits=[10, 18, 1, 30], within=0.75, handles=[4, 4],
                                 ratings=[5, 1])
    # A003 was transferred in: served and rated here, but its wait belongs to pay
    assert rows["account"] == expect(issued=1, served=2, waits=[7], within=1.0,
                                     handles=[18, 6], ratings=[4, 3])
    assert rows["enquiry"] == expect(issued=1, cancelled=1)
    for quiet in ("transfer", "usage", "complaint", "repair"):
        assert rows[quiet] == expect()


def test_per_window_and_clerk(day_report):
    window1 = expect(served=2, no_show=1, transferred=1, waits=[10, 18, 1, 30], within=0.75,
                     handles=[4, 4], away=[5, 13], overdue=1, ratings=[5, 1])
    window3 = expect(served=2, waits=[7], within=1.0, handles=[18, 6], ratings=[4, 3])
    windows = {r["window"]: figures(r) for r in day_report["windows"]}
    assert windows[1] == window1
    assert windows[3] == window3
    assert all(windows[n] == expect() for n in (2, 4, 5, 6))
    clerks = {r["staff_id"]: r for r in day_report["clerks"]}
    assert set(clerks) == {"1001", "1003"}
    assert figures(clerks["1001"]) == window1
    assert figures(clerks["1003"]) == window3
    assert clerks["1001"]["name"] == "王芳"
    assert clerks["1001"]["first_logins"] == {DAY: "08:50:00"}
    assert clerks["1003"]["first_logins"] == {DAY: "08:55:00"}
    assert [(x["staff_id"], x["at"], x["window"]) for x in day_report["first_logins"]] == [
        ("1001", "08:50:00", 1), ("1003", "08:55:00", 3)]


def test_per_hour(day_report):
    hours = {r["hour"]: figures(r) for r in day_report["hours"]}
    assert set(hours) == {9, 10, 16}
    # tickets by the hour they were issued; ratings by the hour given; away by when it began
    assert hours[9] == expect(issued=4, served=3, no_show=1, transferred=1,
                              waits=[10, 7, 18, 1], within=1.0, handles=[4, 18, 6],
                              ratings=[5, 4])
    assert hours[9]["handling_mean_min"] == 9.33
    assert hours[10] == expect(issued=2, served=1, cancelled=1, waits=[30], within=0.0,
                               handles=[4], away=[5, 13], overdue=1, ratings=[3, 1])
    assert hours[10]["satisfaction"] == 0.0
    assert hours[16] == expect(issued=1, expired=1)


def test_a_closed_day_is_kept_and_reads_back_the_same(hall, clock, day_report):
    stored = hall.store.db.execute("SELECT day FROM report_days").fetchall()
    assert stored == [(DAY,)]
    again = build_report(hall.store, hall.config, DAY, DAY, clock())
    assert {k: v for k, v in again.items() if k != "generated_at"} == \
        {k: v for k, v in day_report.items() if k != "generated_at"}


def test_today_is_not_kept(hall, clock):
    clock.set(f"{DAY} 09:00")
    hall.issue(hall.authenticate(KIOSK), "pay")
    report = build_report(hall.store, hall.config, DAY, DAY, clock())
    assert report["total"]["issued"] == 1
    assert hall.store.db.execute("SELECT count(*) FROM report_days").fetchone()[0] == 0


def test_a_multi_day_range_adds_up(hall, clock, day_report):
    clock.set("2026-11-25 09:00")
    report = build_report(hall.store, hall.config, "2026-11-22", "2026-11-25", clock())
    assert figures(report["total"]) == figures(day_report["total"])
    assert [d["day"] for d in report["days"]] == [DAY]


def test_a_range_read_in_two_threads_adds_up(hall, clock, day_report):
    hall.store.db.execute("DELETE FROM report_days")  # nothing kept: all 8 days are read
    report = build_report(hall.store, hall.config, "2026-11-16", DAY, clock())
    assert figures(report["total"]) == figures(day_report["total"])
    assert [d["day"] for d in report["days"]] == [DAY]
    assert {k: v for k, v in report.items() if k not in ("from", "generated_at", "days")} == \
        {k: v for k, v in day_report.items() if k not in ("from", "generated_at", "days")}
    assert hall.store.db.execute("SELECT count(*) FROM report_days").fetchone()[0] == 8


def test_a_database_from_before_ratings_carried_their_ticket_is_upgraded(hall, clock,
                                                                         day_report):
    from hall.migrations import migrate
    from hall.store import Store

    with hall.store.write() as db:  # the ratings table as earlier versions made it
        db.execute("DROP TRIGGER ratings_filled")
        db.execute("DROP INDEX ratings_by_day")
        db.execute("ALTER TABLE ratings DROP COLUMN service")
        db.execute("ALTER TABLE ratings DROP COLUMN day")
        db.execute("DELETE FROM report_days")
        db.execute("DROP TABLE _sqlite_migrations")  # made by no release before it
    hall.store.close()
    store = Store(migrated(hall.store.path))
    assert store.db.execute("SELECT count(*), count(service), count(day) FROM ratings"
                            ).fetchone() == (4, 4, 4)
    again = build_report(store, hall.config, DAY, DAY, clock())
    assert {k: v for k, v in again.items() if k != "generated_at"} == \
        {k: v for k, v in day_report.items() if k != "generated_at"}
    # a rating written the earlier way (a server not yet upgraded on the same file)
    with store.write() as db:
        db.execute("INSERT INTO ratings (ticket_id, window, staff_id, score, at)"
                   " SELECT id, window, staff_id, 5, finished_at FROM tickets"
                   " WHERE number = 'A002'")
    assert store.db.execute("SELECT r.service, r.day FROM ratings r JOIN tickets t"
                            " ON t.id = r.ticket_id WHERE number = 'A002'"
                            ).fetchone() == ("pay", DAY)
    assert migrate(hall.store.path) == []  # upgraded once: nothing left to do
    assert Store(hall.store.path).db.execute(
        "SELECT count(*) FROM sqlite_master WHERE name IN ('ratings_filled', 'ratings_by_day')"
    ).fetchone() == (2,)


def test_bad_ranges_are_refused():
    for start, end in (("2026-13-01", "2026-13-02"), ("2026-11-23", "2026-11-22"),
                       ("x", "2026-11-22"), ("2025-01-01", "2026-11-22")):
        with pytest.raises(ValueError):
            check_range(start, end)


def test_csv_has_a_bom_and_the_figures(day_report):
    data = report_csv(day_report)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    header = rows[0]
    assert header[:3] == ["维度 dimension", "项目 key", "名称 name"]
    by_key = {(r[0], r[1]): dict(zip(header, r, strict=True)) for r in rows[1:]}
    total = by_key[("合计 total", "")]
    assert total["取号 issued"] == "7" and total["平均等候(分) wait mean min"] == "13.2"
    assert total["满意率 satisfaction"] == "0.5"
    clerk = by_key[("工作人员 clerk", "1001")]
    assert clerk["名称 name"] == "王芳"
    assert clerk["首次登录 first login"] == f"{DAY} 08:50:00"
    assert clerk["暂离超时 away overdue"] == "1"
    assert by_key[("时段 hour", "16:00")]["过期 expired"] == "1"


def test_report_command_line(hall, clock, day_report, tmp_path):
    out = tmp_path / "report.csv"
    result = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "report", "--from", DAY, "--to", DAY,
         "--db", str(hall.store.path), "--csv", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "合计 total" in result.stdout and "王芳" in result.stdout
    assert "2026-11-23 08:50:00  1001 王芳" in result.stdout
    assert out.read_bytes() == report_csv(day_report)
    bad = subprocess.run([sys.executable, str(ROOT / "server.py"), "report", "--from", "nope",
                          "--db", str(hall.store.path)], capture_output=True, text=True,
                         cwd=ROOT, timeout=60)
    assert bad.returncode == 2 and "from" in bad.stderr


def test_the_text_report_lines_up_with_chinese_names(day_report):
    import unicodedata

    from hall.reports import format_text

    def columns(text):
        return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)

    report = {**day_report, "services": [{**day_report["services"][0],
                                          "name": {"zh": "用水性质变更与过户联办", "en": "x"}}]}
    lines = format_text(report).splitlines()
    table = [line for line in lines[1:] if line.rstrip().endswith(("%", "—"))]
    assert len(table) > 5
    assert {columns(line) for line in table} == {columns(lines[1])}  # each figure in its column
    assert any("  用水性质变更与… " in line for line in table)  # too long: cut, marked


def _plain(leaves):
    return {leaf: (b.c, sorted(b.waits), sorted(b.handles)) for leaf, b in leaves.items()}


def test_grouped_in_sqlite_equals_ticket_by_ticket(hall, clock, day_report):
    from hall.reports import _fixed_offset, collect_grouped, collect_rows

    # a force-closed window adds a ticket whose first call is only in the event log
    kiosk = hall.authenticate(KIOSK)
    sup = hall.authenticate(hall.login("9001", "9999")["token"])
    clock.set("2026-11-24 09:00")
    hall.issue(kiosk, "usage")
    w4 = hall.authenticate(hall.login("1004", "4567", 4)["token"])
    clock.set("2026-11-24 09:07")
    hall.window_command(w4, 4, "call-next")
    supervision.force_close(hall, sup, {"window": 4})
    w3 = hall.authenticate(hall.login("1003", "3456", 3)["token"])
    clock.set("2026-11-24 09:30")
    hall.window_command(w3, 3, "call-next")
    hall.window_command(w3, 3, "finish")
    for day in (DAY, "2026-11-24"):
        offset = _fixed_offset(hall.config, day)
        assert offset == 8 * 3600
        with hall.store.read() as db:
            grouped = collect_grouped(db, hall.config, day, clock(), offset)
            rows = collect_rows(db, hall.config, day, clock())
        assert _plain(grouped) == _plain(rows)
    assert _plain(rows)[("usage", 4, "1004", 9)][1] == [420.0]  # 7 minutes to the first call


def test_a_daylight_saving_day_is_read_ticket_by_ticket():
    from dataclasses import replace

    from hall.config import load_config
    from hall.reports import _fixed_offset

    berlin = replace(load_config(), timezone="Europe/Berlin")
    assert _fixed_offset(berlin, "2026-03-29") is None  # clocks go forward at 02:00
    assert _fixed_offset(berlin, "2026-03-30") == 2 * 3600


def test_the_report_says_how_well_the_printed_waits_held(hall, clock):
    kiosk = hall.authenticate(KIOSK)
    clerk = hall.authenticate(hall.login("1001", "1234", 1)["token"])  # window 1: pay first
    clock.set(f"{DAY} 10:00")
    assert hall.issue(kiosk, "pay")["ticket"]["estimated_wait_min"] == 0
    assert hall.issue(kiosk, "pay")["ticket"]["estimated_wait_min"] == 4
    clock.set(f"{DAY} 10:01")
    hall.window_command(clerk, 1, "call-next", {})  # A001: 1 minute for 0, within 3
    clock.set(f"{DAY} 10:11")
    hall.window_command(clerk, 1, "finish", {})
    hall.window_command(clerk, 1, "call-next", {})  # A002: 11 minutes for 4, off by 7
    report = build_report(hall.store, hall.config, DAY, DAY, clock())
    promised = {"promised": 2, "promise_within": 0.5, "promise_median_error_min": 4.0,
                "promise_bias_min": -4.0}
    pay = next(s for s in report["services"] if s["service"] == "pay")
    assert {k: pay[k] for k in promised} == promised
    assert {k: report["total"][k] for k in promised} == promised
    assert {k: report["days"][0][k] for k in promised} == promised
    rows = list(csv.reader(io.StringIO(report_csv(report).decode("utf-8-sig"))))
    column = rows[0].index("预计准确率 promise within")
    assert next(r for r in rows if r[1] == "pay")[column] == "0.5"

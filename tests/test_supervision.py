"""The supervisor's commands through the real Hall (and, at the end, the real server)."""

from __future__ import annotations

import importlib

import pytest
import socketio
from support import KIOSK, ServerProcess, migrated

from hall import supervision
from hall.errors import HallError
from hall.reports import build_report
from hall.store import one
from web.commands import EXTRA_COMMANDS, run_command


@pytest.fixture
def actors(hall):
    login = hall.login
    return {
        "kiosk": hall.authenticate(KIOSK),
        "w1": hall.authenticate(login("1001", "1234", 1)["token"]),
        "w3": hall.authenticate(login("1003", "3456", 3)["token"]),
        "sup": hall.authenticate(login("9001", "9999")["token"]),
        "admin": hall.authenticate(login("9000", "0000")["token"]),
    }


def cmd(hall, actor, command, **body):
    return supervision.COMMANDS[command](hall, actor, body)


def refused(code, hall, actor, command, **body):
    seq = hall.state()["seq"]
    with pytest.raises(HallError) as info:
        cmd(hall, actor, command, **body)
    assert info.value.code == code, info.value.message
    assert hall.state()["seq"] == seq  # nothing logged, nothing changed


def events(hall, type_):
    return list(hall.store.db.query("SELECT * FROM events WHERE type = ?", [type_]))


def test_notice_and_issuing(hall, actors, clock):
    seen = []
    hall.subscribe(seen.extend)
    cmd(hall, actors["sup"], "notice", text="  今日  水费系统升级 ")
    assert hall.state()["hall"]["notice"] == "今日 水费系统升级"
    assert [e for e, _ in seen] == ["notice", "hall"]
    assert seen[0][1]["text"] == "今日 水费系统升级"
    refused("forbidden", hall, actors["w1"], "notice", text="x")
    refused("bad_request", hall, actors["sup"], "notice", text="长" * 201)

    cmd(hall, actors["sup"], "pause-issuing")
    state = hall.state()["hall"]
    assert not state["issuing"] and state["issuing_reason"] == "paused"
    with pytest.raises(HallError) as info:
        hall.issue(actors["kiosk"], "pay")
    assert info.value.code == "hall_closed"
    cmd(hall, actors["sup"], "resume-issuing")
    assert hall.issue(actors["kiosk"], "pay")["ticket"]["number"] == "A001"
    assert [e["type"] for e in hall.store.db.query(
        "SELECT type FROM events WHERE type IN ('notice', 'issuing') ORDER BY seq")] == \
        ["notice", "issuing", "issuing"]


def test_cancel_and_transfer_waiting_tickets(hall, actors, clock):
    a1 = hall.issue(actors["kiosk"], "pay")["ticket"]
    clock.advance(minutes=1)
    a2 = hall.issue(actors["kiosk"], "pay")["ticket"]
    clock.advance(minutes=1)
    hall.issue(actors["kiosk"], "pay")
    refused("bad_request", hall, actors["sup"], "cancel-ticket", ticket="A002")  # no reason
    refused("unknown_ticket", hall, actors["sup"], "cancel-ticket", ticket="Z999", reason="x")
    refused("forbidden", hall, actors["w1"], "cancel-ticket", ticket="A002", reason="x")

    cancelled = cmd(hall, actors["sup"], "cancel-ticket", ticket="a002", reason="客户离开")
    assert cancelled["ticket"]["status"] == "cancelled"
    row = one(hall.store.db, "SELECT * FROM tickets WHERE id = ?", [a2["id"]])
    assert row["closed_reason"] == "客户离开"
    refused("wrong_state", hall, actors["sup"], "cancel-ticket", ticket=a2["id"], reason="x")
    assert events(hall, "cancel")[0]["staff_id"] == "9001"

    # to another service: same number, same issue time, so not sent to the back
    moved = cmd(hall, actors["sup"], "transfer-ticket", ticket=a1["id"], service="account",
                reason="业务选错")["ticket"]
    assert (moved["number"], moved["service"], moved["issued_at"]) == \
        ("A001", "account", a1["issued_at"])
    assert hall.window_command(actors["w3"], 3, "call-next")["ticket"]["number"] == "A001"
    # to a window: only that window calls it
    cmd(hall, actors["sup"], "transfer-ticket", ticket="A003", window=3, reason="VIP")
    with pytest.raises(HallError) as info:  # window 1 serves pay, but A003 waits for 3
        hall.window_command(actors["w1"], 1, "call-next")
    assert info.value.code == "queue_empty"
    hall.window_command(actors["w3"], 3, "finish")
    assert hall.window_command(actors["w3"], 3, "call-next")["ticket"]["number"] == "A003"
    refused("bad_request", hall, actors["sup"], "transfer-ticket", ticket="A003",
            service="pay", window=1, reason="x")
    logged = [e for e in events(hall, "transfer") if '"waiting":true' in e["data"]]
    assert [(e["window"], e["staff_id"]) for e in logged] == [(None, "9001"), (None, "9001")]


def test_force_close_puts_the_customer_back_with_the_issue_time(hall, actors, clock):
    issued = hall.issue(actors["kiosk"], "pay")["ticket"]
    clock.advance(minutes=5)
    hall.window_command(actors["w1"], 1, "call-next")
    hall.window_command(actors["w1"], 1, "start")
    clock.advance(minutes=3)
    out = cmd(hall, actors["sup"], "force-close", window=1)
    assert out["window"]["status"] == "closed" and out["window"]["staff"] is None
    assert out["ticket"]["status"] == "waiting"
    assert out["ticket"]["issued_at"] == issued["issued_at"]
    refused("window_closed", hall, actors["sup"], "force-close", window=1)
    # another window takes the customer; the report's wait is still issue -> first call
    w2 = hall.authenticate(hall.login("1002", "2345", 2)["token"])
    clock.advance(minutes=2)
    assert hall.window_command(w2, 2, "call-next")["ticket"]["number"] == "A001"
    hall.window_command(w2, 2, "finish")
    day = hall.state()["hall"]["day"]
    total = build_report(hall.store, hall.config, day, day, clock())["total"]
    assert total["wait_mean_min"] == 5.0 and total["served"] == 1


def test_force_close_ends_an_away(hall, actors, clock):
    hall.window_command(actors["w1"], 1, "away", {"reason": "暂离"})
    clock.advance(minutes=4)
    cmd(hall, actors["sup"], "force-close", window=1, reason="无人")
    period = hall.store.db.execute("SELECT ended_at - started_at FROM away_periods").fetchone()
    assert period[0] == 240
    [ev] = events(hall, "force_close")
    assert '"away_minutes":4.0' in ev["data"] and '"reason":"无人"' in ev["data"]


def test_callbacks_are_masked_and_the_number_goes_when_done(hall, actors):
    seen = []
    hall.subscribe(seen.extend)
    out = cmd(hall, actors["w1"], "callback", window=1, phone="138-1234 5678", name="张三",
              note="系统故障，明天上午回电")["callback"]
    assert (out["phone"], out["name"]) == ("138****5678", "张*")
    assert seen == [("callback", {"seq": seen[0][1]["seq"], "parts": 1, "id": out["id"],
                                  "window": 1, "done": False})]  # nothing personal to devices
    assert "13812345678" not in events(hall, "callback")[0]["data"]
    refused("forbidden", hall, actors["w1"], "callback", window=3, phone="13812345678")
    refused("bad_request", hall, actors["w1"], "callback", window=1, phone="12ab")
    cmd(hall, actors["sup"], "callback", window=3, phone="02112345678")

    assert supervision.mask_phone("13812345678") == "138****5678"
    listed = supervision.dashboard(hall, actors["sup"])["callbacks"]
    assert [c["phone"] for c in listed] == ["138****5678", "021****5678"]
    assert supervision.callback_phone(hall, actors["sup"], out["id"])["phone"] == "13812345678"
    with pytest.raises(HallError):
        supervision.callback_phone(hall, actors["w1"], out["id"])
    refused("forbidden", hall, actors["w1"], "callback-done", id=out["id"])

    cmd(hall, actors["sup"], "callback-done", id=out["id"])
    assert [c["id"] for c in supervision.dashboard(hall, actors["sup"])["callbacks"]] != [out["id"]]
    row = one(hall.store.db, "SELECT * FROM callbacks WHERE id = ?", [out["id"]])
    assert (row["phone"], row["name"], row["done_by"]) == ("138****5678", None, "9001")
    refused("wrong_state", hall, actors["sup"], "callback-done", id=out["id"])


def test_staff_management(hall, actors):
    refused("forbidden", hall, actors["sup"], "staff-add", id="9100", name="副主任",
            role="supervisor", pin="1111")  # only an admin adds supervisors
    refused("staff_exists", hall, actors["sup"], "staff-add", id="1001", name="x", pin="1111")
    refused("bad_request", hall, actors["sup"], "staff-add", id="1010", name="新人", pin="12")
    added = cmd(hall, actors["sup"], "staff-add", id="1010", name="孙丽", pin="2468")
    assert added["staff"] == {"id": "1010", "name": "孙丽", "role": "clerk", "active": True}
    token = hall.login("1010", "2468", 2)["token"]
    assert hall.state()["windows"][1]["staff"] == {"id": "1010", "name": "孙丽"}

    cmd(hall, actors["sup"], "staff-disable", id="1010")
    assert hall.authenticate(token) is None  # the running session ends too
    with pytest.raises(HallError) as info:
        hall.login("1010", "2468", 2)
    assert info.value.code == "unauthorized"
    assert hall.state()["windows"][1]["staff"]["name"] == "孙丽"  # still shown where it sat
    cmd(hall, actors["sup"], "staff-enable", id="1010")
    cmd(hall, actors["sup"], "staff-reset-pin", id="1010", pin="1357")
    with pytest.raises(HallError):
        hall.login("1010", "2468", 2)
    assert hall.login("1010", "1357", 2)["staff"]["name"] == "孙丽"
    refused("forbidden", hall, actors["sup"], "staff-disable", id="9001")  # not oneself
    refused("forbidden", hall, actors["sup"], "staff-reset-pin", id="9000", pin="1234")
    cmd(hall, actors["admin"], "staff-reset-pin", id="9001", pin="8888")
    assert hall.login("9001", "8888")["staff"]["role"] == "supervisor"
    names = {s["id"] for s in supervision.dashboard(hall, actors["admin"])["staff"]}
    assert {"1001", "1010", "9000", "9001"} <= names


def test_the_config_is_only_the_seed(tmp_path, demo_config, clock):
    from hall.hall import Hall
    from hall.store import Store

    store = Store(migrated(tmp_path / "h.db"))
    hall = Hall(demo_config, store, clock=clock)
    sup = hall.authenticate(hall.login("9001", "9999")["token"])
    cmd(hall, sup, "staff-reset-pin", id="1001", pin="4321")
    again = Hall(demo_config, store, clock=clock)  # a restart: the config seeds again
    assert again.login("1001", "4321", 1)["staff"]["id"] == "1001"


def test_registered_for_http_and_socketio():
    import web.app  # the server's app lists web.supervisor, which registers the commands

    importlib.import_module(next(m for m in web.app.PAGE_MODULES if m == "web.supervisor"))
    assert set(supervision.COMMANDS) <= set(EXTRA_COMMANDS)


def test_dashboard_data_flags_long_waits(hall, actors, clock):
    hall.issue(actors["kiosk"], "pay")
    clock.advance(minutes=21)
    hall.issue(actors["kiosk"], "pay")
    waiting = supervision.dashboard(hall, actors["sup"])["waiting"]
    assert [(t["number"], t["over_target"]) for t in waiting] == [("A001", True),
                                                                  ("A002", False)]
    importlib.import_module("web.supervisor")
    status, answer = run_command(hall, actors["w1"], "cancel-ticket",
                                 {"ticket": "A001", "reason": "x"})
    assert status == 403 and answer["error"]["code"] == "forbidden"


def test_over_the_wire(tmp_path):
    srv = ServerProcess(tmp_path / "hall.db").start()
    try:
        assert srv.get("/api/v1/stats").status_code == 401
        clerk = srv.login("1001", "1234", 1)
        assert srv.get("/api/v1/stats", token=clerk).status_code == 403
        sup = srv.login("9001", "9999")
        srv.issue("pay")
        r = srv.get("/api/v1/stats", token=sup)
        assert r.status_code == 200 and r.json()["total"]["issued"] == 1
        assert srv.get("/api/v1/stats?from=2026-02-30", token=sup).status_code == 400
        r = srv.get("/api/v1/stats.csv", token=sup)
        assert r.content.startswith(b"\xef\xbb\xbf") and "attachment" in \
            r.headers["Content-Disposition"]
        r = srv.post("/api/v1/windows/1/callback", {"phone": "13912345678"}, token=clerk)
        assert r.status_code == 200 and r.json()["callback"]["phone"] == "139****5678"
        cb = r.json()["callback"]["id"]
        assert srv.get(f"/api/v1/callbacks/{cb}/phone", token=sup).json()["phone"] == \
            "13912345678"
        assert srv.post(f"/api/v1/callbacks/{cb}/done", token=clerk).status_code == 403
        assert srv.post(f"/api/v1/callbacks/{cb}/done", token=sup).status_code == 200
        assert srv.post("/api/v1/tickets/A001/cancel", {"reason": "测试"},
                        token=sup).json()["ticket"]["status"] == "cancelled"
        assert srv.post("/api/v1/issuing/pause", token=sup).json()["hall"]["issuing"] is False
        assert srv.post("/api/v1/tickets", {"service": "pay"}, token=KIOSK).status_code == 409
        assert srv.post("/api/v1/issuing/resume", token=sup).status_code == 200
        r = srv.post("/api/v1/staff", {"id": "1020", "name": "钱多", "pin": "5555"}, token=sup)
        assert r.status_code == 200, r.text
        assert srv.post("/api/v1/staff/1020/disable", token=sup).status_code == 200
        assert srv.post("/api/v1/login", {"staff_id": "1020", "pin": "5555",
                                          "window": 2}).status_code == 401
        assert srv.post("/api/v1/windows/1/force-close", token=sup).status_code == 200

        # Socket.IO: the same command, the same answer
        client = socketio.Client()
        client.connect(srv.url, auth={"token": sup}, transports=["websocket"])
        try:
            answer = client.call("command", {"name": "notice", "text": "下午停水检修"})
            assert answer["status"] == 200 and answer["hall"]["notice"] == "下午停水检修"
            answer = client.call("command", {"name": "callback-done", "id": 999})
            assert answer["status"] == 404
            # over Socket.IO `name` names the command: people's names go as *_name
            answer = client.call("command", {"name": "callback", "window": 2,
                                             "phone": "13700001111", "customer_name": "李四"})
            assert answer["status"] == 200 and answer["callback"]["name"] == "李*"
            answer = client.call("command", {"name": "staff-add", "id": "1021",
                                             "staff_name": "周到", "pin": "1212"})
            assert answer["status"] == 200 and answer["staff"]["name"] == "周到"
        finally:
            client.disconnect()
        assert srv.get("/api/v1/state").json()["hall"]["notice"] == "下午停水检修"
    finally:
        srv.stop()

"""A device's copy of the hall stays right when commands arrive swapped (with two server
processes messages cross in Redis), and the device hears of them in the order applied."""

import threading
import time

from support import DISPLAY, KIOSK, wait_until

from client.live import LiveHall


def snapshot(seq=1):
    return {"seq": seq, "hall": {"notice": ""}, "services": [{"id": "pay", "waiting": 0}],
            "windows": [], "recent_calls": [], "devices": []}


def client(with_state=True):
    seen = []
    live = LiveHall("http://127.0.0.1:9", on_event=lambda name, p: seen.append((name, p["seq"])))
    if with_state:
        live._take_state(snapshot())
    return live, seen


def heard(live, seen):
    """What the device's callback heard so far: every callback queued before this one ran."""
    done = []
    live._later(done.append, True)
    wait_until(lambda: done)
    return seen


def issue(seq, number, waiting):
    """The `changes` message of one ticket issued: its two events."""
    return {"seq": seq, "events": [
        ["ticket_issued", {"seq": seq, "parts": 2, "number": number, "service": "pay",
                           "waiting": waiting}],
        ["queue", {"seq": seq, "parts": 2, "service": "pay", "waiting": waiting,
                   "estimated_wait_min": 0, "longest_wait_min": 0}]]}


def test_a_command_that_comes_early_waits_for_the_one_before():
    live, seen = client()
    live._changes(issue(3, "A002", 2))
    assert heard(live, seen) == [] and live.last_seq == 1
    live._changes(issue(2, "A001", 1))
    assert heard(live, seen) == [("ticket_issued", 2), ("queue", 2), ("ticket_issued", 3),
                                 ("queue", 3)]
    assert live.last_seq == 3 and live.state["seq"] == 3
    assert live.state["services"][0]["waiting"] == 2
    assert live.resyncs == 0


def committed_together(*messages):
    """The one `changes` message of commands committed together: their events, in seq order."""
    events = [event for message in messages for event in message["events"]]
    return {"seq": messages[-1]["seq"], "events": events}


def test_commands_committed_together_come_in_one_message_and_apply_in_turn():
    live, seen = client()
    live._changes(committed_together(issue(2, "A001", 1), issue(3, "A002", 2)))
    assert heard(live, seen) == [("ticket_issued", 2), ("queue", 2), ("ticket_issued", 3),
                                 ("queue", 3)]
    assert live.last_seq == 3 and live.state["services"][0]["waiting"] == 2
    assert live.resyncs == 0


def test_of_a_commit_the_commands_the_snapshot_holds_are_skipped_and_the_rest_applied():
    live, seen = client(with_state=False)
    live._changes(committed_together(issue(1, "A001", 1), issue(2, "A002", 2)))
    live._take_state(snapshot(seq=1))
    assert heard(live, seen) == [("ticket_issued", 2), ("queue", 2)]
    assert live.last_seq == 2


def test_commands_the_snapshot_already_holds_are_ignored():
    live, seen = client()
    live._changes(issue(1, "A001", 5))
    assert heard(live, seen) == [] and live.state["services"][0]["waiting"] == 0


def test_commands_that_come_before_the_first_snapshot_wait_for_it():
    live, seen = client(with_state=False)
    live._changes(issue(1, "A001", 1))  # already in the snapshot
    live._changes(issue(2, "A002", 2))  # committed after it was read
    live._take_state(snapshot(seq=1))
    assert heard(live, seen) == [("ticket_issued", 2), ("queue", 2)]
    assert live.state["services"][0]["waiting"] == 2 and live.last_seq == 2


def test_a_gap_that_stays_open_fetches_the_snapshot(monkeypatch):
    live, seen = client()
    fetched = []
    monkeypatch.setattr(live, "resync", lambda: fetched.append(True))
    live._changes(issue(3, "A002", 4))  # seq 2 never comes
    assert heard(live, seen) == []
    live._gap_timer.cancel()
    live._gap_still_open()
    assert fetched == [True]


def test_a_callback_that_fails_on_one_event_still_hears_the_next():
    seen = []

    def on_event(name, payload):
        if name == "ticket_issued":
            raise RuntimeError("the device's own bug")
        seen.append(name)

    live = LiveHall("http://127.0.0.1:9", on_event=on_event)
    live._take_state(snapshot())
    live._changes(issue(2, "A001", 1))
    assert heard(live, seen) == ["queue"]


def test_waiting_for_the_state_waits_for_the_devices_own_callback(server):
    told = []

    def slow_on_state(state):
        time.sleep(0.3)  # a display building its screen
        told.append(state["seq"])

    live = LiveHall(server.url, token=DISPLAY, on_state=slow_on_state)
    live.start()
    try:
        state = live.wait_for_state()
        assert told == [state["seq"]]
    finally:
        live.stop()


def test_a_display_stays_right_through_a_burst_of_tickets_from_eight_kiosks(server):
    """Eight kiosks issuing at once share commits, and so `changes` messages: a display's
    copy ends equal to the server's without ever finding a gap."""
    display = LiveHall(server.url, token=DISPLAY)
    display.start()
    kiosks = [LiveHall(server.url, token=KIOSK) for _ in range(8)]
    try:
        display.wait_for_state()
        for kiosk in kiosks:
            kiosk.start()
            kiosk.wait_for_state()
        threads = [threading.Thread(target=lambda k=k: [k.command("issue", service="pay")
                                                        for _ in range(15)])
                   for k in kiosks]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        final = server.get("/api/v1/state").json()
        assert wait_until(lambda: display.last_seq == final["seq"])
        waiting = {s["id"]: s["waiting"] for s in display.state["services"]}
        assert waiting == {s["id"]: s["waiting"] for s in final["services"]}
        assert waiting["pay"] == 120 and display.resyncs == 0
    finally:
        for live in [display, *kiosks]:
            live.stop()

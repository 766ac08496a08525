"""A device's copy of the hall stays right when events arrive swapped (with two server
processes events cross in Redis), and the device hears of them in the order applied."""

from support import wait_until

from client.live import LiveHall


def snapshot(seq=1):
    return {"seq": seq, "hall": {"notice": ""}, "services": [{"id": "pay", "waiting": 0}],
            "windows": [], "recent_calls": [], "devices": []}


def client():
    seen = []
    live = LiveHall("http://127.0.0.1:9", on_event=lambda name, p: seen.append((name, p["seq"])))
    live._take_state(snapshot())
    return live, seen


def heard(live, seen):
    """What the device's callback heard so far: every callback queued before this one ran."""
    done = []
    live._later(done.append, True)
    wait_until(lambda: done)
    return seen


def queue(seq, waiting, parts=2):
    return {"seq": seq, "parts": parts, "service": "pay", "waiting": waiting,
            "estimated_wait_min": 0, "longest_wait_min": 0}


def issued(seq, number, parts=2):
    return {"seq": seq, "parts": parts, "number": number, "service": "pay", "waiting": 0}


def test_a_commands_events_are_applied_together_even_when_a_later_one_comes_between():
    live, seen = client()
    live._event("ticket_issued", issued(2, "A001"))
    live._event("ticket_issued", issued(3, "A002"))  # the next command overtakes ...
    live._event("queue", queue(3, 2))
    live._event("queue", queue(2, 1))  # ... the second half of the first
    assert heard(live, seen) == [("ticket_issued", 2), ("queue", 2), ("ticket_issued", 3),
                                 ("queue", 3)]
    assert live.last_seq == 3 and live.state["services"][0]["waiting"] == 2
    assert live.resyncs == 0


def test_events_the_snapshot_already_holds_are_ignored():
    live, seen = client()
    live._event("queue", queue(1, 5, parts=1))
    assert heard(live, seen) == [] and live.state["services"][0]["waiting"] == 0


def test_a_gap_that_stays_open_fetches_the_snapshot(monkeypatch):
    live, seen = client()
    fetched = []
    monkeypatch.setattr(live, "resync", lambda: fetched.append(True))
    live._event("queue", queue(3, 4, parts=1))  # seq 2 never comes
    assert heard(live, seen) == []
    live._gap_timer.cancel()
    live._gap_still_open()
    assert fetched == [True]

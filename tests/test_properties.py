"""Random days in the hall: whatever clerks and kiosks do, the invariants hold."""

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from support import FakeClock, migrated

from hall.auth import Actor
from hall.clerk_summary import clerk_summary
from hall.config import load_config
from hall.errors import HallError
from hall.hall import Hall
from hall.policy import CLASS_RANK, next_ticket
from hall.store import Store

CONFIG = load_config()
SERVICES = [s.id for s in CONFIG.services]
WINDOWS = [w.number for w in CONFIG.windows]
BOSS = Actor(role="supervisor", staff_id="9001", key="boss")
KIOSK = Actor(role="kiosk", device_id="kiosk-1", key="kiosk")

windows = st.sampled_from(WINDOWS)


class HallDay(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.dir = tempfile.TemporaryDirectory()
        self.clock = FakeClock("2026-11-23 09:00")
        self.hall = Hall(CONFIG, Store(migrated(Path(self.dir.name) / "h.db")), clock=self.clock)
        self.db = self.hall.store.db

    def teardown(self):
        self.hall.store.close()
        self.dir.cleanup()

    def status_of(self, window):
        return self.db.execute("SELECT status FROM windows WHERE number = ?",
                               [window]).fetchone()[0]

    def try_command(self, number, name, **params):
        before = self.status_of(number)
        seq = self.hall.state()["seq"]
        try:
            result = self.hall.window_command(BOSS, number, name, params)
        except HallError:
            assert self.hall.state()["seq"] == seq, f"a refused {name} changed the hall"
            return None
        if name == "call-next":
            assert before == "idle", f"window {number} was {before} and got a ticket"
        return result

    @initialize(open_windows=st.sets(windows, min_size=1),
                services=st.lists(st.sampled_from(SERVICES), min_size=1, max_size=8))
    def a_morning_under_way(self, open_windows, services):
        # From an empty hall the random steps seldom reach a call: start with windows open
        # and customers waiting.
        for number in sorted(open_windows):
            self.hall.window_command(BOSS, number, "open", {})
        for service in services:
            self.hall.issue(KIOSK, service)

    @rule(service=st.sampled_from(SERVICES),
          priority=st.sampled_from(["normal", "normal", "normal", "priority", "vip"]))
    def issue(self, service, priority):
        self.hall.issue(KIOSK, service, priority)

    @rule(window=windows)
    def open(self, window):
        self.try_command(window, "open")

    @rule(window=windows)
    def close(self, window):
        self.try_command(window, "close")

    def waiting(self) -> list[dict]:
        cursor = self.db.execute("SELECT * FROM tickets WHERE status = 'waiting'")
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor]

    def idle(self) -> list[int]:
        return [r[0] for r in self.db.execute(
            "SELECT number FROM windows WHERE status = 'idle' ORDER BY number")]

    @rule(window=windows)
    def call_next(self, window):
        self.call_at(window)

    @precondition(lambda self: self.idle())
    @rule(data=st.data())
    def call_at_an_idle_window(self, data):
        self.call_at(data.draw(st.sampled_from(self.idle())))

    def call_at(self, window):
        # The policy over the whole queue, as the rule states it (the server reads only the
        # first in line of each group): the same ticket must be called.
        waiting = self.waiting()
        expected = next_ticket(CONFIG.window(window), waiting, CONFIG.rules.call_policy)
        result = self.try_command(window, "call-next")
        if result is not None:
            assert result["ticket"]["id"] == expected["id"]

    @rule(window=windows, command=st.sampled_from(["recall", "start", "finish", "no-show",
                                                    "back"]))
    def act(self, window, command):
        self.try_command(window, command)

    def serving(self) -> list[int]:
        return [r[0] for r in self.db.execute(
            "SELECT number FROM windows WHERE ticket_id IS NOT NULL ORDER BY number")]

    # The rules above pick any window, and most picks are refused (which must change
    # nothing); these pick a window that has a customer, so that days also go on to serve,
    # pass on and transfer.
    @precondition(lambda self: self.serving())
    @rule(data=st.data(), command=st.sampled_from(["recall", "start", "finish", "no-show"]))
    def act_on_a_customer(self, data, command):
        self.try_command(data.draw(st.sampled_from(self.serving())), command)

    @precondition(lambda self: self.serving())
    @rule(data=st.data(), service=st.sampled_from(SERVICES), other=windows)
    def pass_a_customer_on(self, data, service, other):
        window = data.draw(st.sampled_from(self.serving()))
        if data.draw(st.booleans()):
            self.try_command(window, "transfer", service=service)
        else:
            self.try_command(window, "transfer", window=other)

    @rule(window=windows, reason=st.sampled_from(["暂离", "午休", "", None]))
    def away(self, window, reason):
        self.try_command(window, "away", reason=reason)

    @rule(window=windows, service=st.sampled_from(SERVICES))
    def transfer_to_service(self, window, service):
        self.try_command(window, "transfer", service=service)

    @rule(window=windows, other=windows)
    def transfer_to_window(self, window, other):
        self.try_command(window, "transfer", window=other)

    @rule(minutes=st.integers(min_value=1, max_value=30))
    def time_passes(self, minutes):
        self.clock.advance(minutes=minutes)
        self.hall.tick()

    @rule()
    def next_day(self):
        self.clock.advance(minutes=24 * 60)
        self.hall.tick()

    @invariant()
    def no_ticket_is_at_two_windows(self):
        at_windows = [r[0] for r in self.db.execute(
            "SELECT ticket_id FROM windows WHERE ticket_id IS NOT NULL")]
        assert len(at_windows) == len(set(at_windows))
        active = {r[0] for r in self.db.execute(
            "SELECT id FROM tickets WHERE status IN ('called', 'serving')")}
        assert active == set(at_windows)

    @invariant()
    def numbers_are_unique_per_day(self):
        dupes = self.db.execute("SELECT day, number FROM tickets GROUP BY day, number"
                                " HAVING count(*) > 1").fetchall()
        assert dupes == []

    @invariant()
    def counts_agree_with_the_event_log(self):
        def events(kind):
            return self.db.execute("SELECT count(*) FROM events WHERE type = ?",
                                   [kind]).fetchone()[0]

        def tickets(condition):
            return self.db.execute(f"SELECT count(*) FROM tickets WHERE {condition}"
                                   ).fetchone()[0]

        assert tickets("1") == events("issue")
        assert tickets("status = 'done'") == events("finish")
        assert tickets("status = 'no_show'") == events("no_show")
        expired = sum(int(r[0]) for r in self.db.execute(
            "SELECT json_extract(data, '$.count') FROM events WHERE type = 'expire'"))
        assert tickets("status = 'expired'") == expired
        assert tickets("transfers > 0") <= events("transfer")

    @invariant()
    def queue_lengths_and_places_agree_with_the_waiting_tickets(self):
        counted = self.db.execute(
            "SELECT service, coalesce(target_window, 0), priority, count(*) FROM tickets"
            " WHERE status = 'waiting' GROUP BY 1, 2, 3 ORDER BY 1, 2, 3").fetchall()
        kept = self.db.execute("SELECT * FROM queue_lengths WHERE waiting != 0"
                               " ORDER BY 1, 2, 3").fetchall()
        assert kept == counted

        def place(t):
            return (CLASS_RANK[t["priority"]], t["issued_at"], t["id"])

        def queue(t):
            return ("window", t["target_window"]) if t["target_window"] else t["service"]

        # "ahead" is how many the estimate has called before the ticket by the windows that
        # may call it: at least the tickets of its queue and class taken before it (every
        # window calls those first, whatever its flags), each of them with fewer ahead; with
        # no open window to call it, exactly those before it in its queue.
        waiting = self.waiting()
        with self.hall.view() as view:
            shown = {t["id"]: view.ticket(t) for t in waiting}
            for ticket in waiting:
                mine = shown[ticket["id"]]
                same_class = [o for o in waiting if queue(o) == queue(ticket)
                              and o["priority"] == ticket["priority"]
                              and place(o) < place(ticket)]
                assert mine["ahead"] >= len(same_class)
                for other in same_class:
                    assert shown[other["id"]]["ahead"] < mine["ahead"]
                if mine["estimated_wait_min"] is None:
                    assert mine["ahead"] == sum(1 for o in waiting if queue(o) == queue(ticket)
                                                and place(o) < place(ticket))

    @invariant()
    def each_counter_sees_its_queues_as_the_waiting_tickets_are(self):
        waiting = self.waiting()
        with self.hall.view() as view:
            for number in WINDOWS:
                services = CONFIG.window(number).services
                mine = [t for t in waiting if t["target_window"] == number or (
                    t["target_window"] is None and t["service"] in services)]
                seen = clerk_summary(view, number, None)["waiting"]
                assert seen["total"] == len(mine)
                assert seen["transferred_here"] == sum(
                    t["target_window"] == number for t in mine)
                oldest = min(mine, key=lambda t: (t["issued_at"], t["id"]), default=None)
                assert (seen["longest"] or {}).get("number") == (oldest or {}).get("number")

    @invariant()
    def away_and_closed_windows_hold_no_ticket(self):
        held = self.db.execute("SELECT count(*) FROM windows WHERE status IN ('away', 'closed')"
                               " AND ticket_id IS NOT NULL").fetchone()[0]
        assert held == 0


HallDay.TestCase.settings = settings(max_examples=40, stateful_step_count=40, deadline=None,
                                     suppress_health_check=[HealthCheck.too_slow])
test_random_days_keep_the_invariants = HallDay.TestCase

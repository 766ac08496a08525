"""The hall's commands: issue, call, recall, start, finish, no-show, transfer, away, back, rate.

Each command is one SQLite transaction that checks its rules, changes the tickets and windows,
and appends exactly one row to the event log; its `seq` goes out on every event the command
causes. A refused command raises HallError inside the transaction, so nothing changes.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from hall import appointments, auth, logins, policy, supervision
from hall.auth import VIEWER, Actor
from hall.config import PRIORITY_CLASSES, HallConfig
from hall.errors import HallError, bad_request
from hall.hours import hall_day, issuing_at, local_time
from hall.numbers import parse_whole
from hall.presence import Presence
from hall.snapshot import View
from hall.staff import execute_script
from hall.staff import member as staff_member
from hall.store import Database, Store, insert, one, scalar, to_json, update

# A command's events, in order: [(event, payload), ...], every payload with the command's seq.
Events = list[tuple[str, dict]]
Listener = Callable[[Events], None]

log = logging.getLogger("hallq.hall")

WINDOW_COMMANDS = ("open", "close", "call-next", "recall", "start", "finish", "no-show",
                   "transfer", "away", "back")
PRINTER_STATES = ("ok", "no_paper", "offline", "cover_open", "error", "unknown")
AWAY_REASON_MAX = 40
REQUEST_ID_MAX = 64
REQUESTS_KEPT_SECONDS = 2 * 24 * 3600

# A session that stands: not ended, not expired (one from before sessions carried an expiry
# lasts twelve hours), its staff member active. Read by the sessions' primary key.
_LIVE_SESSION = """
SELECT s.staff_id, s.role, s.window FROM sessions s JOIN staff ON staff.id = s.staff_id
WHERE s.token_key = ? AND s.ended_at IS NULL AND staff.active
AND coalesce(s.expires_at, s.created_at + 43200) > ?
"""

REASON_TEXT = {
    "closed_day": "今天不办理业务 · Closed today",
    "before_open": "尚未开始取号 · Not issuing yet",
    "break": "午间休息，暂停取号 · Break: not issuing",
    "after_last_ticket": "今日已停止取号 · No more tickets today",
    "after_close": "今日已停止取号 · No more tickets today",
    "paused": "暂停取号 · Issuing paused",
}


TAIL_ONLY = ("issue", "normal")  # a command that only adds a normal ticket at its queue's end


class Command(View):
    """A command in progress: a View of the hall plus the event it will log."""

    def __init__(self, db: Database, config: HallConfig, now: float,
                 actor: Actor) -> None:
        View.__init__(self, db, config, now)
        self.actor = actor
        self.seq: int | None = None
        self.logged: tuple[str, Any] | None = None  # the event's type, and its priority
        self.events: list[tuple[str, dict]] = []
        self.ends_sessions = False  # set by logout, disabling, a PIN reset

    def log(self, type_: str, window: int | None = None, ticket_id: int | None = None,
            staff_id: str | None = None, **data: Any) -> int:
        """Append this command's one row to the event log."""
        assert self.seq is None, "a command logs exactly one event"
        self.logged = (type_, data.get("priority"))
        actor = self.actor.staff_id or self.actor.device_id or self.actor.role
        self.seq = self.db.execute(
            "INSERT INTO events (at, day, type, window, ticket_id, staff_id, actor, data)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [self.now, self.day, type_, window, ticket_id, staff_id, actor, to_json(data)],
        ).lastrowid
        return self.seq

    def notify(self, event: str, payload: dict) -> None:
        self.events.append((event, payload))

    def notify_window(self, number: int) -> None:
        self.notify("window", {"window": self.window(number)})

    def notify_queue(self, service_id: str) -> None:
        self.notify("queue", self.queue_event(service_id))

    def notify_ticket(self, row: dict) -> None:
        self.notify("ticket", {"ticket": self.ticket(row)})

    def set_window(self, number: int, **values: Any) -> None:
        update(self.db, "windows", "number", number, values)
        self.forget_cache()

    def set_ticket(self, ticket_id: int, **values: Any) -> dict:
        update(self.db, "tickets", "id", ticket_id, values)
        self.forget_cache()
        return self.ticket_row(ticket_id)


class _Job:
    """One command on its way through a group commit."""

    def __init__(self, actor: Actor, request_id: Any, body: Callable[[Command], dict]) -> None:
        self.actor, self.request_id, self.body = actor, request_id, body
        self.cmd: Command | None = None  # set when it ran and has events to publish
        self.result: dict | None = None
        self.error: BaseException | None = None
        self.done = False

    def finish(self, error: BaseException | None = None) -> None:
        if error is not None:
            self.error, self.cmd = error, None
        self.done = True

    def answer(self) -> dict:
        if self.error is not None:
            raise self.error
        return self.result


class Hall:
    """The hall: the one place that changes queue state."""

    def __init__(self, config: HallConfig, store: Store,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self._listeners: list[Listener] = []
        self._in_order = threading.Lock()
        self._pending: list[_Job] = []  # commands waiting for the next commit
        self._pending_lock = threading.Lock()
        self._checked_day: str | None = None
        self._session_listeners: list[Callable[[], None]] = []
        self._pruned_at = 0.0
        self._seed_windows_and_devices()
        self.presence = Presence(store)  # counts this process's device connections
        # Grows with every command that may move the estimates of tickets already waiting;
        # a normal ticket issued joins the end of its queue (TAIL_ONLY) and moves none.
        self.model_version = 0
        self.wrong_codes = appointments.WrongCodes()  # booking codes mistyped, per kiosk

    # -- plumbing --------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        """`listener(events)` is called after each commit with the events of the commands it
        committed, in seq order."""
        self._listeners.append(listener)

    def _publish(self, commands: list[Command]) -> None:
        """The events of a batch's commands, to each listener at once and in seq order: one
        message per commit to each device rather than one per command, where each message
        wakes each connection's writer thread (on a Pi, the dearest part of a burst's tickets).
        Each event carries its command's seq and the number of events that command sent."""
        stamped = []
        for cmd in commands:
            events = cmd.events
            if cmd.seq is not None and not events:
                # Logged, but nothing a device shows changed (a supervisor's login, say): the
                # bare seq still goes out, so that no device mistakes the next event for a gap.
                events = [("seq", {})]
            stamped += [(event, {"seq": cmd.seq, "parts": len(events), **payload})
                        for event, payload in events]
        if not stamped:
            return
        for listener in self._listeners:
            listener(stamped)

    def run(self, actor: Actor, request_id: Any, body: Callable[[Command], dict]) -> dict:
        """Run `body` as one command; a retried request_id gets its first answer again.

        Commands that arrive while another commits are committed together, each in a
        savepoint of one transaction (group commit): one fsync for the lot, where a Pi's SD
        card takes milliseconds for each. Nobody is answered before their command is on disk,
        and a refused command is rolled back alone."""
        if request_id is not None and (
            not isinstance(request_id, str) or not 0 < len(request_id) <= REQUEST_ID_MAX
        ):
            raise bad_request(f"request_id: a string of 1 to {REQUEST_ID_MAX} characters")
        self.roll_over_day()
        job = _Job(actor, request_id, body)
        with self._pending_lock:
            self._pending.append(job)
        # Events go out in seq order: they are published before the next batch may commit.
        with self._in_order:
            if not job.done:  # else an earlier batch took it along
                with self._pending_lock:
                    batch, self._pending = self._pending, []
                self._commit(batch)
        return job.answer()

    def _commit(self, batch: list[_Job]) -> None:
        try:
            with self.store.write() as db:
                for job in batch:
                    self._run_job(db, job)
        except BaseException as error:  # the commit failed: nothing of the batch was kept
            for job in batch:
                job.finish(error=error)
            raise
        commands = [job.cmd for job in batch if job.cmd is not None]
        try:
            self._publish(commands)
        except Exception:  # committed all the same: the answers stand, clients resync
            log.exception("publishing the events of seq %s failed",
                          [cmd.seq for cmd in commands])
        if any(cmd.ends_sessions for cmd in commands):
            self.sessions_ended()
        for job in batch:
            job.finish()

    def _run_job(self, db: Database, job: _Job) -> None:
        db.execute("SAVEPOINT command")
        try:
            if job.request_id is not None:
                done = one(db, "SELECT response FROM requests WHERE actor = ? AND request_id = ?",
                           [job.actor.key, job.request_id])
                if done:
                    job.result = json.loads(done["response"])
                    db.execute("RELEASE command")
                    return
            cmd = Command(db, self.config, self.clock(), job.actor)
            cmd.model_version = self.model_version
            try:
                job.result = job.body(cmd)
            finally:
                if cmd.logged != TAIL_ONLY:
                    self.model_version += 1
            if job.request_id is not None:
                insert(db, "requests", {"actor": job.actor.key, "request_id": job.request_id,
                                       "at": cmd.now, "response": to_json(job.result)})
            job.cmd = cmd
            db.execute("RELEASE command")
        except Exception as error:  # refused (or failed): this command only is undone
            db.execute("ROLLBACK TO command")
            db.execute("RELEASE command")
            job.error = error

    def view(self) -> Any:
        """A read transaction over the hall: `with hall.view() as v: v.state()`."""
        return _ViewContext(self)

    def state(self) -> dict:
        with self.view() as v:
            return v.state()

    def _seed_windows_and_devices(self) -> None:
        with self.store.write() as db:
            supervision.prepare(db, self.config)  # staff directory, callbacks
            execute_script(db, logins.SCHEMA)
            for w in self.config.windows:
                db.execute("INSERT OR IGNORE INTO windows (number) VALUES (?)", [w.number])
            # A booking back end calls over HTTP now and then: it is no device to watch.
            for d in (d for d in self.config.devices if d.role != "booking"):
                db.execute(
                    "INSERT INTO devices (id, role, window) VALUES (?, ?, ?)"
                    " ON CONFLICT (id) DO UPDATE SET role = excluded.role,"
                    " window = excluded.window",
                    [d.id, d.role, d.window],
                )

    # -- authentication ----------------------------------------------------------------------
    def authenticate(self, token: str | None) -> Actor | None:
        """The actor a token stands for, or None if it stands for nobody."""
        if not token or not isinstance(token, str):
            return None
        device = self.config.device_by_token(token)
        key = auth.token_key(token)
        if device:
            return Actor(role=device.role, device_id=device.id, window=device.window, key=key)
        with self.store.read() as db:
            session = one(db, _LIVE_SESSION, [key, self.clock()])
        if not session:
            return None
        return Actor(role=session["role"], staff_id=session["staff_id"],
                     window=session["window"], key=key)

    def session_alive(self, actor: Actor) -> bool:
        """Whether a staff actor's session still stands (not ended, expired or disabled): one
        read by primary key, cheap enough to ask before every Socket.IO command."""
        if not actor.is_staff:
            return True
        with self.store.read() as db:
            return one(db, _LIVE_SESSION, [actor.key, self.clock()]) is not None

    def on_sessions_ended(self, listener: Callable[[], None]) -> None:
        """`listener()` is called after a command that ended sessions (logout, disabling, a
        PIN reset), so that the server can drop their open sockets."""
        self._session_listeners.append(listener)

    def sessions_ended(self) -> None:
        for listener in self._session_listeners:
            try:
                listener()
            except Exception:
                log.exception("a sessions-ended listener failed")

    def login(self, staff_id: Any, pin: Any, window: Any = None,
              address: str | None = None) -> dict:
        """Check a PIN; for a clerk, open the window (the start of the shift) and bind to it.

        `address` is the client's: failures are counted and locked per address (hall.logins).
        A wrong PIN and an unknown id get the same answer after the same work; a clerk without
        a window is told so only once the PIN was right."""
        staff_id, pin = logins.check_fields(staff_id, pin)
        address = logins.address_key(address)
        if window is not None:
            window = self.window_number(window)
        with self.store.read() as db:  # a blocked address is turned away without a KDF slot
            logins.refuse_if_blocked(db, self.clock(), self.config.tz, address, staff_id)
        with auth.kdf_slot():
            self._reserve_attempt(address, staff_id)
            with self.store.read() as db:
                staff = staff_member(db, staff_id)
            if not auth.verify_pin(pin, staff.pin_hash if staff else None):
                raise HallError("unauthorized", logins.WRONG)
            rehashed = auth.hash_pin(pin) if auth.needs_rehash(staff.pin_hash) else None
        if window is None and staff.role == "clerk":
            self.run(VIEWER, None, lambda cmd: self._undo_attempt(cmd, address, staff_id))
            raise bad_request("window: a clerk logs in at a window")
        token = auth.new_token()

        def body(cmd: Command) -> dict:
            unlocked = self._release_attempt(cmd, address, staff_id)
            if rehashed:
                cmd.db.execute("UPDATE staff SET pin_hash = ? WHERE id = ? AND pin_hash = ?",
                               [rehashed, staff_id, staff.pin_hash])
            insert(cmd.db, "sessions", {"token_key": auth.token_key(token), "staff_id": staff_id,
                                       "role": staff.role, "window": window,
                                       "created_at": cmd.now,
                                       "expires_at": self._session_end(staff.role, cmd.now)})
            if window is not None:
                self._take_window(cmd, window, staff_id)
            cmd.log("login", window=window, staff_id=staff_id, role=staff.role,
                    **({"unlocked": address} if unlocked else {}))
            return {"token": token, "staff": {"id": staff.id, "name": staff.name,
                                              "role": staff.role},
                    "window": cmd.window(window) if window is not None else None}

        return self.run(Actor(role=staff.role, staff_id=staff_id), None, body)

    def _session_end(self, role: str, now: float) -> float:
        """A clerk's session ends with the hall day; a supervisor's or admin's after
        `rules.supervisor_session_hours`."""
        if role == "clerk":
            tomorrow = local_time(now, self.config.tz).date() + timedelta(days=1)
            return datetime.combine(tomorrow, datetime.min.time(), self.config.tz).timestamp()
        return now + self.config.rules.supervisor_session_hours * 3600

    def _reserve_attempt(self, address: str, staff_id: str) -> None:
        """Count the attempt before the PIN is checked (hall.logins); a lock it sets is an
        event, so the dashboard shows it at once."""

        def body(cmd: Command) -> dict:
            locked = logins.reserve(cmd.db, cmd.now, cmd.tz, address, staff_id)
            if locked:
                cmd.log("login_locked", staff_id=None if locked == "address" else staff_id,
                        address=address, kind=locked)
                cmd.notify("lockouts", {"count": logins.count(cmd.db, cmd.now)})
            return {}

        self.run(VIEWER, None, body)

    @staticmethod
    def _release_attempt(cmd: Command, address: str, staff_id: str) -> bool:
        """The PIN was right: the attempt is taken back, a lock on it lifted (and shown)."""
        unlocked = logins.release(cmd.db, cmd.now, address, staff_id)
        if unlocked:
            cmd.notify("lockouts", {"count": logins.count(cmd.db, cmd.now)})
        return unlocked

    def _undo_attempt(self, cmd: Command, address: str, staff_id: str) -> dict:
        if self._release_attempt(cmd, address, staff_id):
            cmd.log("login_unlocked", staff_id=staff_id, address=address, by=None)
        return {}

    def logout(self, token: str) -> dict:
        actor = self.authenticate(token)
        if not actor or not actor.is_staff:
            raise HallError("unauthorized", "未登录 · Not logged in")

        def body(cmd: Command) -> dict:
            cmd.db.execute("UPDATE sessions SET ended_at = ? WHERE token_key = ?",
                           [cmd.now, actor.key])
            cmd.log("logout", window=actor.window, staff_id=actor.staff_id)
            cmd.ends_sessions = True
            return {"ok": True}

        return self.run(actor, None, body)

    # -- tickets -----------------------------------------------------------------------------
    def issue(self, actor: Actor, service: Any, priority: Any = "normal",
              request_id: Any = None) -> dict:
        """Issue the next number of `service` (the kiosk's tap)."""
        self.require(actor, "issue")
        svc = self.service_named(service)
        if priority is None:
            priority = "normal"
        if priority not in PRIORITY_CLASSES:
            raise bad_request(f"priority: one of {', '.join(PRIORITY_CLASSES)}")

        def body(cmd: Command) -> dict:
            self._check_issuing(cmd)
            return self.new_ticket(cmd, svc, priority)

        return self.run(actor, request_id, body)

    def new_ticket(self, cmd: Command, svc: Any, priority: str, **logged: Any) -> dict:
        """Inside a command: the next number of `svc`, waiting (issue, appointment check-in)."""
        last = scalar(
            cmd.db,
            "INSERT INTO counters (service, day, last) VALUES (?, ?, 1)"
            " ON CONFLICT (service, day) DO UPDATE SET last = last + 1 RETURNING last",
            [svc.id, cmd.day],
        )
        if svc.daily_cap and last > svc.daily_cap:
            raise HallError("service_full", f"{svc.name['zh']}今日号已取完 · "
                            f"No more {svc.name['en']} tickets today")
        if last > svc.last_number:
            raise HallError("service_full", "今日号码已用完 · Numbers used up today")
        number = svc.ticket_number(last)
        ticket_id = insert(cmd.db, "tickets", {
            "public_id": secrets.token_urlsafe(12), "day": cmd.day, "number": number,
            "service": svc.id, "issued_service": svc.id, "priority": priority,
            "status": "waiting", "issued_at": cmd.now,
        })
        cmd.forget_cache()
        row = cmd.ticket_row(ticket_id)
        answer = cmd.ticket(row)  # the printed promise, kept for the reports
        cmd.log("issue", ticket_id=ticket_id, number=number, service=svc.id,
                priority=priority, estimated_wait_min=answer["estimated_wait_min"], **logged)
        waiting = cmd.queue_event(svc.id)
        cmd.notify("ticket_issued", {"number": number, "service": svc.id,
                                     "priority": priority, "waiting": waiting["waiting"]})
        cmd.notify("queue", waiting)
        return {"ticket": answer}

    def _check_issuing(self, cmd: Command) -> None:
        paused = bool(cmd.setting("issuing_paused", False))
        issuing = issuing_at(self.config.hours, local_time(cmd.now, cmd.tz), paused=paused)
        if issuing.issuing:
            return
        text = REASON_TEXT[issuing.reason]
        if issuing.next_at:
            when = issuing.next_at.strftime("%H:%M")
            if issuing.next_at.date() != local_time(cmd.now, cmd.tz).date():
                when = issuing.next_at.strftime("%m-%d %H:%M")
            text += f"。{when} 开始取号 · Tickets from {when}"
        raise HallError("hall_closed", text, reason=issuing.reason,
                        next_issuing_at=issuing.next_at.isoformat(timespec="seconds")
                        if issuing.next_at else None)

    def ticket_status(self, public_id: Any) -> dict:
        """A ticket as its QR status page sees it (numbers only, nothing personal)."""
        if not isinstance(public_id, str) or len(public_id) > 64:
            raise HallError("unknown_ticket", "没有这张票 · No such ticket")
        with self.view() as v:
            row = one(v.db, "SELECT * FROM tickets WHERE public_id = ?", [public_id])
            if not row:
                raise HallError("unknown_ticket", "没有这张票 · No such ticket")
            ticket = v.ticket(row)
            ticket["service_name"] = self.config.service(row["service"]).name
            if row["window"]:
                ticket["window_name"] = self.config.window(row["window"]).name
            return {"ticket": ticket, "seq": v.seq(), "now": v.iso(v.now)}

    # -- windows -----------------------------------------------------------------------------
    def window_command(self, actor: Actor, number: Any, name: str,
                       params: dict | None = None, request_id: Any = None) -> dict:
        """One of WINDOW_COMMANDS on window `number`, by a clerk, box or supervisor."""
        if name not in WINDOW_COMMANDS:
            raise HallError("not_found", f"unknown window command {name!r}")
        number = self.window_number(number)
        self.require(actor, name, number)
        params = params or {}
        handler = getattr(self, "_" + name.replace("-", "_"))

        def body(cmd: Command) -> dict:
            row = cmd.window_row(number)
            result = handler(cmd, row, params) or {}
            cmd.notify_window(number)
            return {"window": cmd.window(number), **result}

        return self.run(actor, request_id, body)

    def _take_window(self, cmd: Command, number: int, staff_id: str) -> None:
        """A clerk logs in at a window: it opens, or a stand-in takes it over as it is."""
        row = cmd.window_row(number)
        if row["status"] == "closed":
            cmd.set_window(number, status="idle", opened_at=cmd.now, staff_id=staff_id)
        else:
            cmd.set_window(number, staff_id=staff_id)
        cmd.notify_window(number)
        self.notify_service_queues(cmd, number)

    def _open(self, cmd: Command, row: dict, params: dict) -> dict:
        if row["status"] != "closed":
            raise HallError("window_open", "窗口已开启 · The window is already open")
        cmd.set_window(row["number"], status="idle", opened_at=cmd.now,
                       staff_id=cmd.actor.staff_id)
        cmd.log("open", window=row["number"], staff_id=cmd.actor.staff_id)
        self.notify_service_queues(cmd, row["number"])

    def _close(self, cmd: Command, row: dict, params: dict) -> dict:
        self._require_no_ticket(row)
        if row["status"] == "closed":
            raise HallError("window_closed", "窗口已关闭 · The window is already closed")
        if row["status"] == "away":
            self.end_away(cmd, row)
        cmd.set_window(row["number"], status="closed", staff_id=None, opened_at=None)
        cmd.log("close", window=row["number"], staff_id=row["staff_id"])
        self.notify_service_queues(cmd, row["number"])

    def _call_next(self, cmd: Command, row: dict, params: dict) -> dict:
        self._require_ready(row)
        window = self.config.window(row["number"])
        waiting = appointments.for_calling(cmd, window, cmd.waiting_for(window))
        ticket = policy.next_ticket(window, waiting, self.config.rules.call_policy)
        if ticket is None:
            raise HallError("queue_empty", "没有等候的客户 · Nobody is waiting")
        ticket = cmd.set_ticket(ticket["id"], status="called", called_at=cmd.now,
                                window=row["number"], staff_id=row["staff_id"],
                                target_window=None)
        cmd.set_window(row["number"], status="calling", ticket_id=ticket["id"])
        self._announce(cmd, "call", row, ticket)
        cmd.notify_queue(ticket["service"])
        return {"ticket": cmd.ticket(ticket)}

    def _recall(self, cmd: Command, row: dict, params: dict) -> dict:
        ticket = self._current_ticket(cmd, row, "called")
        ticket = cmd.set_ticket(ticket["id"], recalls=ticket["recalls"] + 1)
        self._announce(cmd, "recall", row, ticket)
        return {"ticket": cmd.ticket(ticket)}

    def _announce(self, cmd: Command, type_: str, row: dict, ticket: dict) -> None:
        data = {"number": ticket["number"], "service": ticket["service"],
                "priority": ticket["priority"], "recalls": ticket["recalls"]}
        cmd.log(type_, window=row["number"], ticket_id=ticket["id"], staff_id=row["staff_id"],
                **data)
        cmd.notify("called", cmd.call_payload(data, row["number"], cmd.now))
        cmd.notify_ticket(ticket)

    def _start(self, cmd: Command, row: dict, params: dict) -> dict:
        ticket = self._current_ticket(cmd, row, "called")
        ticket = cmd.set_ticket(ticket["id"], status="serving", started_at=cmd.now)
        cmd.set_window(row["number"], status="serving")
        cmd.log("start", window=row["number"], ticket_id=ticket["id"], staff_id=row["staff_id"],
                number=ticket["number"], service=ticket["service"])
        cmd.notify_ticket(ticket)
        return {"ticket": cmd.ticket(ticket)}

    def _finish(self, cmd: Command, row: dict, params: dict) -> dict:
        ticket = self._current_ticket(cmd, row, "called", "serving")
        ticket = cmd.set_ticket(ticket["id"], status="done", finished_at=cmd.now,
                                started_at=ticket["started_at"] or ticket["called_at"])
        cmd.set_window(row["number"], status="idle", ticket_id=None,
                       last_finished_ticket_id=ticket["id"])
        cmd.log("finish", window=row["number"], ticket_id=ticket["id"],
                staff_id=row["staff_id"], number=ticket["number"], service=ticket["service"],
                handling_s=round(cmd.now - ticket["started_at"], 1),
                waited_s=round(ticket["called_at"] - ticket["issued_at"], 1))
        cmd.notify_ticket(ticket)
        cmd.notify_queue(ticket["service"])  # the average handling time moved
        return {"ticket": cmd.ticket(ticket)}

    def _no_show(self, cmd: Command, row: dict, params: dict) -> dict:
        ticket = self._current_ticket(cmd, row, "called")
        needed = self.config.rules.max_recalls
        if ticket["recalls"] < needed:
            raise HallError("too_few_recalls", f"请先重呼 {needed} 次（已重呼 "
                            f"{ticket['recalls']} 次） · Recall {needed} times first")
        ticket = cmd.set_ticket(ticket["id"], status="no_show", finished_at=cmd.now)
        cmd.set_window(row["number"], status="idle", ticket_id=None)
        cmd.log("no_show", window=row["number"], ticket_id=ticket["id"],
                staff_id=row["staff_id"], number=ticket["number"], service=ticket["service"])
        cmd.notify_ticket(ticket)
        return {"ticket": cmd.ticket(ticket)}

    def _transfer(self, cmd: Command, row: dict, params: dict) -> dict:
        """首问负责制: hand the customer over; same number, same issue time, no new ticket."""
        ticket = self._current_ticket(cmd, row, "called", "serving")
        from_service = ticket["service"]
        to_service, to_window = params.get("service"), params.get("window")
        if (to_service is None) == (to_window is None):
            raise bad_request("transfer: give either service or window")
        target = None
        if to_service is not None:
            service = self.service_named(to_service).id
            changes = {"service": service, "target_window": None}
        else:
            target = self.window_number(to_window)
            if target == row["number"]:
                raise bad_request("transfer: that is this window")
            if cmd.window_row(target)["status"] == "closed":
                raise HallError("window_closed", f"{target}号窗口未开 · Window {target} is closed")
            service = ticket["service"]
            changes = {"target_window": target}
        ticket = cmd.set_ticket(ticket["id"], status="waiting", window=None, called_at=None,
                                started_at=None, recalls=0,
                                transfers=ticket["transfers"] + 1, **changes)
        cmd.set_window(row["number"], status="idle", ticket_id=None)
        cmd.log("transfer", window=row["number"], ticket_id=ticket["id"],
                staff_id=row["staff_id"], number=ticket["number"],
                from_service=from_service, to_service=service, to_window=target)
        cmd.notify_ticket(ticket)
        for service_id in sorted({from_service, service}):
            cmd.notify_queue(service_id)
        if target is not None:
            cmd.notify_window(target)
        return {"ticket": cmd.ticket(ticket)}

    def _away(self, cmd: Command, row: dict, params: dict) -> dict:
        reason = params.get("reason")
        if not isinstance(reason, str) or not reason.strip() or len(reason) > AWAY_REASON_MAX:
            raise bad_request(f"reason: a text of 1 to {AWAY_REASON_MAX} characters")
        self._require_ready(row)
        cmd.set_window(row["number"], status="away", away_reason=reason.strip(),
                       away_since=cmd.now, away_overdue_sent=0)
        insert(cmd.db, "away_periods", {"window": row["number"], "staff_id": row["staff_id"],
                                       "reason": reason.strip(), "started_at": cmd.now})
        cmd.log("away", window=row["number"], staff_id=row["staff_id"], reason=reason.strip())
        self.notify_service_queues(cmd, row["number"])

    def _back(self, cmd: Command, row: dict, params: dict) -> dict:
        if row["status"] != "away":
            raise HallError("wrong_state", "窗口不在暂离状态 · The window is not away")
        minutes = self.end_away(cmd, row)
        cmd.set_window(row["number"], status="idle")
        cmd.log("back", window=row["number"], staff_id=row["staff_id"],
                away_minutes=round(minutes, 2))
        self.notify_service_queues(cmd, row["number"])

    def end_away(self, cmd: Command, row: dict) -> float:
        cmd.db.execute("UPDATE away_periods SET ended_at = ? WHERE window = ? AND ended_at IS NULL",
                       [cmd.now, row["number"]])
        cmd.set_window(row["number"], away_reason=None, away_since=None, away_overdue_sent=0)
        return (cmd.now - row["away_since"]) / 60

    def notify_service_queues(self, cmd: Command, number: int) -> None:
        """Open windows divide the estimated waits: re-send the queues this window serves."""
        for service_id in self.config.window(number).services:
            cmd.notify_queue(service_id)

    # -- ratings -------------------------------------------------------------------------------
    def rate(self, actor: Actor, number: Any, score: Any, reason: Any = None,
             request_id: Any = None) -> dict:
        """The customer rates the ticket last finished at this window: once, soon after."""
        number = self.window_number(number)
        self.require(actor, "rate", number)
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            raise bad_request("score: a whole number from 1 (非常不满意) to 5 (非常满意)")
        if reason is not None and (not isinstance(reason, str) or len(reason) > 80):
            raise bad_request("reason: a text of at most 80 characters")

        def body(cmd: Command) -> dict:
            row = cmd.window_row(number)
            ticket = cmd.ticket_row(row["last_finished_ticket_id"])
            if ticket is None:
                raise HallError("nothing_to_rate", "没有可评价的业务 · Nothing to rate")
            if scalar(cmd.db, "SELECT 1 FROM ratings WHERE ticket_id = ?", [ticket["id"]]):
                raise HallError("already_rated", "已评价，谢谢 · Already rated, thank you")
            if cmd.now - ticket["finished_at"] > self.config.rules.rating_minutes * 60:
                raise HallError("rating_expired", "评价时间已过 · Too late to rate")
            rating = {"ticket_id": ticket["id"], "window": number, "staff_id": ticket["staff_id"],
                      "score": score, "reason": reason, "at": cmd.now}
            insert(cmd.db, "ratings", rating)
            cmd.log("rate", window=number, ticket_id=ticket["id"], staff_id=ticket["staff_id"],
                    number=ticket["number"], score=score, reason=reason)
            cmd.notify("rating", {"window": number, "number": ticket["number"], "score": score})
            return {"rating": {"number": ticket["number"], "window": number, "score": score,
                               "reason": reason, "at": cmd.iso(cmd.now)}}

        return self.run(actor, request_id, body)

    # -- devices -------------------------------------------------------------------------------
    def report_printer(self, actor: Actor, state: Any, detail: Any = None,
                       request_id: Any = None) -> dict:
        self.require(actor, "printer")
        if state not in PRINTER_STATES:
            raise bad_request(f"state: one of {', '.join(PRINTER_STATES)}")
        if detail is not None and (not isinstance(detail, str) or len(detail) > 200):
            raise bad_request("detail: a text of at most 200 characters")

        def body(cmd: Command) -> dict:
            cmd.db.execute("UPDATE devices SET printer_state = ?, printer_detail = ?,"
                           " last_seen = ? WHERE id = ?", [state, detail, cmd.now,
                                                           actor.device_id])
            cmd.log("printer", state=state, detail=detail, device=actor.device_id)
            device = next(d for d in cmd.devices() if d["id"] == actor.device_id)
            cmd.notify("device", {"device": device})
            return {"device": device}

        return self.run(actor, request_id, body)

    def device_presence(self, actor: Actor, connected: bool) -> None:
        """A device's Socket.IO connection came or went (not a queue change: no event row)."""
        if actor.device_id is None:
            return
        self.presence.change(actor.device_id, 1 if connected else -1, self.clock())

    # -- time passing --------------------------------------------------------------------------
    def tick(self) -> None:
        """Called every second or so: day rollover, overdue-away alerts, missed bookings."""
        self.roll_over_day()
        self.presence.beat()
        self._prune_login_failures()
        now = self.clock()
        with self.store.read() as db:
            away = db.execute("SELECT number, away_reason, away_since FROM windows"
                              " WHERE status = 'away' AND away_overdue_sent = 0").fetchall()
        overdue = [n for n, reason, since in away if since + self.away_limit_s(reason) <= now]
        for number in overdue:
            self.run(auth.VIEWER, None, lambda cmd, n=number: self._mark_overdue(cmd, n))
        appointments.tick(self)  # no-shows, phone numbers past keeping

    def _prune_login_failures(self) -> None:
        now = self.clock()
        if now - self._pruned_at < 10:
            return
        self._pruned_at = now
        with self.store.write(durable=False) as db:  # old rows only: pruned again if lost
            logins.prune(db, now)

    def away_limit_s(self, reason: str | None) -> float:
        """An away reason's own limit (午休 the lunch, 暂离 the hall's rule): config.py."""
        return self.config.away_reason(reason).limit_minutes * 60

    def _mark_overdue(self, cmd: Command, number: int) -> dict:
        row = cmd.window_row(number)
        if row["status"] != "away" or row["away_overdue_sent"] or \
                row["away_since"] + self.away_limit_s(row["away_reason"]) > cmd.now:
            return {}  # another thread or process got there first
        cmd.set_window(number, away_overdue_sent=1)
        cmd.db.execute("UPDATE away_periods SET overdue = 1 WHERE window = ? AND ended_at IS NULL",
                       [number])
        minutes = round((cmd.now - row["away_since"]) / 60, 1)
        cmd.log("away_overdue", window=number, staff_id=row["staff_id"], minutes=minutes,
                reason=row["away_reason"])
        staff = staff_member(cmd.db, row["staff_id"], active_only=False)
        cmd.notify("away_overdue", {
            "window": number, "since": cmd.iso(row["away_since"]), "minutes": minutes,
            "reason": row["away_reason"],
            "staff": {"id": staff.id, "name": staff.name} if staff else None})
        cmd.notify_window(number)
        return {}

    def roll_over_day(self) -> None:
        """At the first moment of a new day, tickets still waiting from before expire (counted,
        with a reason), and numbering starts again (counters are per day)."""
        today = hall_day(self.clock(), self.config.tz)
        if self._checked_day == today:
            return
        self._checked_day = today  # first, as the expiry below is itself a command
        with self.store.read() as db:
            stale = scalar(db, "SELECT count(*) FROM tickets WHERE status = 'waiting'"
                           " AND day < ?", [today])
        if stale:
            self.run(auth.VIEWER, None, self._expire_stale)
        with self.store.write() as db:
            db.execute("DELETE FROM requests WHERE at < ?",
                       [self.clock() - REQUESTS_KEPT_SECONDS])

    def _expire_stale(self, cmd: Command) -> dict:
        rows = list(cmd.db.query("SELECT id, number, day, service FROM tickets"
                                 " WHERE status = 'waiting' AND day < ?", [cmd.day]))
        if not rows:
            return {}
        cmd.db.execute("UPDATE tickets SET status = 'expired', closed_reason = 'day_end',"
                       " finished_at = ? WHERE status = 'waiting' AND day < ?", [cmd.now, cmd.day])
        cmd.forget_cache()
        cmd.log("expire", reason="day_end", count=len(rows),
                tickets=[[r["day"], r["number"]] for r in rows])
        for service_id in sorted({r["service"] for r in rows}):
            if self.config.service(service_id):
                cmd.notify_queue(service_id)
        cmd.notify("hall", {"hall": cmd.hall()})
        return {"expired": len(rows)}

    # -- checks --------------------------------------------------------------------------------
    def require(self, actor: Actor, command: str, window: int | None = None) -> None:
        if not auth.may(actor, command, window):
            if actor.role == "viewer":
                raise HallError("unauthorized", "请先登录 · Log in first")
            raise HallError("forbidden", "无权操作 · Not allowed for this device or window")

    def service_named(self, service: Any) -> Any:
        if service is None:
            raise bad_request("service: missing")
        svc = self.config.service(service) if isinstance(service, str) else None
        if svc is None:
            raise HallError("unknown_service", f"没有这项业务 · Unknown service {service!r}")
        return svc

    def window_number(self, number: Any) -> int:
        if number is None:
            raise bad_request("window: missing")
        if isinstance(number, str):
            number = parse_whole(number.strip()) or number
        if isinstance(number, bool) or not isinstance(number, int) or \
                self.config.window(number) is None:
            raise HallError("unknown_window", f"没有这个窗口 · Unknown window {number!r}")
        return number

    @staticmethod
    def _require_ready(row: dict) -> None:
        """Only an open, idle window may take a customer or step away."""
        if row["status"] == "closed":
            raise HallError("window_closed", "窗口未开 · The window is closed")
        if row["status"] == "away":
            raise HallError("window_away", "窗口暂离中 · The window is away")
        if row["ticket_id"] is not None:
            raise HallError("ticket_active", "请先办结当前客户 · Finish the current customer first")

    @staticmethod
    def _require_no_ticket(row: dict) -> None:
        if row["ticket_id"] is not None:
            raise HallError("ticket_active", "请先办结当前客户 · Finish the current customer first")

    @staticmethod
    def _current_ticket(cmd: Command, row: dict, *states: str) -> dict:
        ticket = cmd.ticket_row(row["ticket_id"])
        if ticket is None:
            raise HallError("no_ticket", "当前没有客户 · No current customer")
        if ticket["status"] not in states:
            raise HallError("wrong_state", f"当前号码状态为 {ticket['status']} · "
                            f"Ticket is {ticket['status']}")
        return ticket


class _ViewContext:
    def __init__(self, hall: Hall) -> None:
        self.hall = hall
        self._read = None

    def __enter__(self) -> View:
        self._read = self.hall.store.read()
        db = self._read.__enter__()
        view = View(db, self.hall.config, self.hall.clock())
        view.model_version = self.hall.model_version
        return view

    def __exit__(self, *exc: Any) -> None:
        self._read.__exit__(*exc)

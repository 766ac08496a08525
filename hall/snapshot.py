"""The hall as JSON: the `state` snapshot and the pieces that events carry.

Every figure is read from the database inside the caller's transaction, so a snapshot and the
events of a command always agree with what was committed.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from hall import estimate, forecast, policy
from hall.config import HallConfig, Window
from hall.hours import clock_text, hall_day, is_open, issuing_at, local_time
from hall.staff import member as staff_member
from hall.store import Database, one, scalar

RECENT_CALLS = 10


class View:
    """Read-only questions about the hall at one moment, answered from one transaction."""

    def __init__(self, db: Database, config: HallConfig, now: float) -> None:
        self.db = db
        self.config = config
        self.now = now
        self.tz = config.tz
        self.day = hall_day(now, self.tz)
        self._cache: dict[tuple, Any] = {}
        # The Hall's count of changes the estimator must see (Hall.model_version); None: no
        # forecast of another moment is reused.
        self.model_version: int | None = None

    # -- times -----------------------------------------------------------------------------
    def iso(self, epoch: float | None) -> str | None:
        if epoch is None:
            return None
        return datetime.fromtimestamp(epoch, self.tz).isoformat(timespec="seconds")

    # -- settings --------------------------------------------------------------------------
    def setting(self, key: str, default: Any = None) -> Any:
        value = scalar(self.db, "SELECT value FROM settings WHERE key = ?", [key])
        return default if value is None else json.loads(value)

    # -- tickets ---------------------------------------------------------------------------
    def waiting(self) -> list[dict]:
        """Every waiting ticket, oldest first (for lists; counts are cheaper as SQL)."""
        return self._cached(("waiting",), lambda: list(self.db.query(
            "SELECT * FROM tickets WHERE status = 'waiting' ORDER BY id")))

    def waiting_for(self, window: Window) -> list[dict]:
        """The waiting tickets `window` may call (its services', and those sent to it): of
        each service, target window and priority class only the first in line, since every
        call policy orders by issue time within those (policy.py). The queues that have any
        are in queue_lengths, and the first of each is found in the tickets_queue index: the
        call costs the same with a handful waiting or thousands."""
        marks = ",".join("?" * len(window.services))
        return list(self.db.query(
            "SELECT t.* FROM queue_lengths q JOIN tickets t ON t.id = (SELECT id FROM tickets"
            " WHERE status = 'waiting' AND service = q.service"
            " AND target_window IS nullif(q.target_window, 0) AND priority = q.priority"
            " ORDER BY issued_at, id LIMIT 1) WHERE q.waiting > 0"
            f" AND (q.target_window = ? OR (q.target_window = 0 AND q.service IN ({marks})))",
            [window.number, *window.services]))

    def forget_cache(self) -> None:
        """Call after changing tickets or windows: figures are read again."""
        self._cache.clear()

    def _cached(self, key: tuple, compute: Any) -> Any:
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def ticket_row(self, ticket_id: int | None) -> dict | None:
        if ticket_id is None:
            return None
        return one(self.db, "SELECT * FROM tickets WHERE id = ?", [ticket_id])

    def ticket(self, row: dict) -> dict:
        out = {
            "id": row["id"],
            "number": row["number"],
            "service": row["service"],
            "priority": row["priority"],
            "status": row["status"],
            "issued_at": self.iso(row["issued_at"]),
            "called_at": self.iso(row["called_at"]),
            "started_at": self.iso(row["started_at"]),
            "finished_at": self.iso(row["finished_at"]),
            "window": row["window"],
            "target_window": row["target_window"],
            "recalls": row["recalls"],
            "transfers": row["transfers"],
            "public_id": row["public_id"],
            "status_url": f"/t/{row['public_id']}",
        }
        if row["status"] == "waiting":
            result, _ = self.forecast()
            ahead = result.ahead.get(row["id"])
            if ahead is None:  # no open window will call it: those before it in its queue
                ahead = scalar(self.db, *policy.ahead_query(row))
                out["ahead_low"] = out["ahead_high"] = ahead
            else:
                out["ahead_low"], out["ahead_high"] = estimate.ahead_range(ahead)
            out["ahead"] = ahead
            out |= self._estimate(result, row["id"], row["service"], row["target_window"])
        return out

    # -- estimates (hall/estimate.py) ------------------------------------------------------
    def forecast(self, phantoms: bool = False) -> tuple[estimate.Forecast, list]:
        """The model's forecast of every waiting ticket's call, and the windows it stepped;
        with `phantoms`, of a normal ticket of each service issued now too.

        Under priority_first a normal ticket issued now is called after every real one of its
        class, so one run with the phantoms serves the real tickets too, and a command pays
        for one run, not two. Under service_order a phantom may go before a real ticket of
        another service: there the real tickets get a run of their own."""
        if self.config.rules.call_policy == "priority_first":
            phantoms = True
        return self._cached(("forecast", phantoms), lambda: forecast.hall_forecast(
            self.db, self.config, self.day, self.now, phantoms, self.model_version))

    def _estimate(self, result: estimate.Forecast, ticket_id: int, service: str,
                  target_window: int | None) -> dict:
        """estimated_wait_min, estimated_call_at, serving_from and estimate_note."""
        _, plans = self.forecast()
        wait = result.wait_minutes(ticket_id)
        call_at = result.call_at.get(ticket_id)
        start = forecast.serving_from(plans, self.config, self.day, self.now, service,
                                      target_window)
        note = None
        if start is None:
            pass
        elif start == float("inf") or call_at is None:
            wait, call_at, start = None, None, None
            note = "暂无窗口办理 · No window serves this now"
        else:
            when = forecast.clock(self.config, start)
            note = f"暂无窗口办理，预计 {when} 起 · No window now; from about {when}"
        return {"estimated_wait_min": wait, "estimated_call_at": self.iso(call_at),
                "serving_from": self.iso(start), "estimate_note": note}

    # -- services --------------------------------------------------------------------------
    def avg_handling(self, service_id: str) -> float:
        return self._cached(("avg", service_id), lambda: self._avg_handling(service_id))

    def _avg_handling(self, service_id: str) -> float:
        seed = self.config.service(service_id).avg_minutes
        recent = [
            r[0] / 60
            for r in self.db.execute(
                "SELECT finished_at - coalesce(started_at, called_at) FROM tickets"
                " WHERE day = ? AND service = ? AND status = 'done'"
                " ORDER BY finished_at DESC LIMIT ?",
                [self.day, service_id, estimate.HANDLING_SAMPLES],
            )
        ]
        return estimate.average_handling(seed, recent)

    def service(self, service_id: str) -> dict:
        svc = self.config.service(service_id)
        # The first in line of each class is found in the tickets_queue index; counting them
        # all would walk the queue.
        waiting, oldest = self.db.execute(
            "SELECT coalesce(sum(waiting), 0), min((SELECT min(issued_at) FROM tickets t"
            " WHERE t.status = 'waiting' AND t.service = q.service AND t.target_window IS NULL"
            " AND t.priority = q.priority)) FROM queue_lengths q"
            " WHERE q.service = ? AND q.target_window = 0 AND q.waiting > 0",
            [service_id]).fetchone()
        avg = self.avg_handling(service_id)
        index = self.config.services.index(svc)
        result, _ = self.forecast(phantoms=True)
        return {
            "id": svc.id,
            "prefix": svc.prefix,
            "name": svc.name,
            "waiting": waiting,
            # a normal ticket of this service taken now
            **self._estimate(result, forecast.PHANTOM_ID + index, service_id, None),
            "longest_wait_min": round((self.now - oldest) / 60, 1) if oldest else 0,
            "avg_handling_min": round(avg, 1),
            "target_wait_minutes": svc.target_wait_minutes,
            "daily_cap": svc.daily_cap,
            "bookable": svc.booking is not None,  # appointments (预约) may be made
        }

    def services_with_suggestions(self) -> list[dict]:
        """Every service with the waits the model expects for a ticket taken in 30 and 60
        minutes, and for those whose wait passes the target the window it would open (in the
        snapshot only: it runs the model once per closed window, and once more)."""
        found = forecast.suggestions(self.db, self.config, self.day, self.now)
        coming = forecast.outlook(self.db, self.config, self.day, self.now)
        return [self.service(s.id) | {"suggestion": found.get(s.id),
                                      "outlook": coming.get(s.id, [])}
                for s in self.config.services]

    def sent_to_window(self, number: int) -> int:
        """How many tickets were transferred to window `number` and wait for it."""
        return scalar(self.db, "SELECT coalesce(sum(waiting), 0) FROM queue_lengths"
                               " WHERE target_window = ?", [number])

    def queue_event(self, service_id: str) -> dict:
        s = self.service(service_id)
        return {key: s[key] for key in ("waiting", "estimated_wait_min", "longest_wait_min",
                                        "serving_from", "estimate_note")} | {"service": service_id}

    # -- windows ---------------------------------------------------------------------------
    def window_row(self, number: int) -> dict | None:
        return one(self.db, "SELECT * FROM windows WHERE number = ?", [number])

    def window(self, number: int) -> dict:
        cfg = self.config.window(number)
        row = self.window_row(number)
        staff = staff_member(self.db, row["staff_id"], active_only=False)
        ticket = self.ticket_row(row["ticket_id"])
        return {
            "number": number,
            "name": cfg.name,
            "services": list(cfg.services),
            "flags": list(cfg.flags),
            "status": row["status"],
            "staff": {"id": staff.id, "name": staff.name} if staff else None,
            "ticket": self.ticket(ticket) if ticket else None,
            "away": self.away(row),
            "opened_at": self.iso(row["opened_at"]),
        }

    def away(self, row: dict) -> dict | None:
        if row["status"] != "away":
            return None
        limit = self.config.away_reason(row["away_reason"]).limit_minutes
        minutes = (self.now - row["away_since"]) / 60
        return {
            "reason": row["away_reason"],
            "reason_en": self.config.away_reason_en(row["away_reason"]),
            "since": self.iso(row["away_since"]),
            "limit_at": self.iso(row["away_since"] + limit * 60),
            "overdue": minutes > limit,
            "minutes": round(minutes, 2),
        }

    # -- the hall --------------------------------------------------------------------------
    def hall(self) -> dict:
        hours = self.config.hours
        local = local_time(self.now, self.tz)
        paused = bool(self.setting("issuing_paused", False))
        issuing = issuing_at(hours, local, paused=paused)
        return {
            "name": self.config.name,
            "languages": list(self.config.languages),
            "timezone": self.config.timezone,
            "day": self.day,
            "open": is_open(hours, local),
            "issuing": issuing.issuing,
            "issuing_reason": issuing.reason,
            "next_issuing_at": issuing.next_at.isoformat(timespec="seconds")
            if issuing.next_at else None,
            "last_ticket_passed": issuing.reason in ("after_last_ticket", "after_close"),
            "hours": {
                "days": list(hours.days),
                "open": clock_text(hours.open),
                "close": clock_text(hours.close),
                "last_ticket": clock_text(hours.last_ticket),
                "breaks": [[clock_text(a), clock_text(b)] for a, b in hours.breaks],
            },
            "notice": self.setting("notice", self.config.notice),
            "away_limit_minutes": self.config.rules.away_limit_minutes,
            "max_recalls": self.config.rules.max_recalls,
            "no_paper_no_ticket": self.config.rules.no_paper_no_ticket,
            "public_url": self.config.public_url,
            "ticket_footer": self.config.ticket_footer,
        }

    def recent_calls(self) -> list[dict]:
        rows = self.db.query(
            "SELECT data, window, at FROM events WHERE type IN ('call', 'recall')"
            " ORDER BY seq DESC LIMIT ?",
            [RECENT_CALLS],
        )
        return [self.call_payload(json.loads(r["data"]), r["window"], r["at"]) for r in rows]

    def call_payload(self, data: dict, window: int, at: float) -> dict:
        return {
            "number": data["number"],
            "service": data["service"],
            "priority": data["priority"],
            "window": window,
            "window_name": self.config.window(window).name,
            "recalls": data["recalls"],
            "at": self.iso(at),
        }

    def devices(self) -> list[dict]:
        return [
            {
                "id": row["id"],
                "role": row["role"],
                "window": row["window"],
                "online": row["connected"] > 0,
                "last_seen": self.iso(row["last_seen"]),
                "printer": row["printer_state"],
                "printer_detail": row["printer_detail"],
            }
            for row in self.db.query("SELECT * FROM devices ORDER BY id")
        ]

    def seq(self) -> int:
        return scalar(self.db, "SELECT coalesce(max(seq), 0) FROM events")

    def state(self) -> dict:
        return {
            "seq": self.seq(),
            "now": self.iso(self.now),
            "hall": self.hall(),
            "services": self.services_with_suggestions(),
            "windows": [self.window(w.number) for w in self.config.windows],
            "recent_calls": self.recent_calls(),
            "devices": self.devices(),
        }


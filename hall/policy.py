"""Who is called next, and how many are ahead of a ticket: the order of the queue.

The call policy is one function a hall can choose in `[rules] call_policy`:
- `priority_first`: priority class first (green channel, then VIP, then appointments, then
  everyone else), then the earliest issue time. A window flagged `priority` or `vip` takes its
  own class before all others.
- `service_order`: the window's first service first (in the order the config lists them), then
  as above within each service.
A transferred ticket keeps its original issue time, so it is not sent to the back.

Appointments (预约) are called at their slot: after the green channel and VIP, a checked-in
appointment takes its place among everyone else as if it had taken a number
`[appointments] head_start_minutes` before its slot started (its `call_at`). At its slot it so
goes before every walk-in who has waited less than that head start, and behind those who have
waited longer; a customer who checks in early does not pass those who came before the slot.
With `head_start_minutes = 0` an appointment is a walk-in who took a number at the slot's start.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from hall.config import Window

CLASS_RANK = {"priority": 0, "vip": 1, "appointment": 2, "normal": 3}

Ticket = Mapping[str, Any]


def may_take(window: Window, ticket: Ticket) -> bool:
    """A ticket transferred to a window waits for that window only; others wait for a service."""
    if ticket["target_window"] is not None:
        return ticket["target_window"] == window.number
    return ticket["service"] in window.services


def appointment_call_at(slot_start: float, head_start_minutes: float) -> float:
    """When an appointment counts as queued (see the module's note)."""
    return slot_start - head_start_minutes * 60


def _class_rank(window: Window, ticket: Ticket) -> int:
    if ticket["priority"] in window.flags:
        return -1
    if ticket.get("call_at") is not None:  # an appointment with its slot: among walk-ins
        return CLASS_RANK["normal"]
    return CLASS_RANK[ticket["priority"]]


def _priority_first(window: Window, ticket: Ticket) -> tuple:
    queued_at = ticket.get("call_at")
    if queued_at is None:
        queued_at = ticket["issued_at"]
    return (_class_rank(window, ticket), queued_at, ticket["id"])


def _service_order(window: Window, ticket: Ticket) -> tuple:
    if ticket["target_window"] == window.number:
        service_rank = -1
    else:
        service_rank = window.services.index(ticket["service"])
    return (service_rank, *_priority_first(window, ticket))


# Every policy orders the tickets of one service, target window and priority class by
# (issued_at, id): View.waiting_for hands it only the first in line of each of those. The
# appointments, ordered by their slots instead, come every one with their `call_at`
# (appointments.for_calling).
CALL_POLICIES: dict[str, Callable[[Window, Ticket], tuple]] = {
    "priority_first": _priority_first,
    "service_order": _service_order,
}


def next_ticket(window: Window, waiting: Iterable[Ticket], policy: str) -> Ticket | None:
    """The waiting ticket `window` calls next under `policy`, or None."""
    key = CALL_POLICIES[policy]
    candidates = [t for t in waiting if may_take(window, t)]
    return min(candidates, key=lambda t: key(window, t), default=None)


# A ticket's place among those waiting for the same service, as SQL, for `ahead` and the
# estimates: class first, then issue time (window flags aside: they differ from window to window).
RANK_SQL = "CASE priority " + " ".join(
    f"WHEN '{name}' THEN {rank}" for name, rank in CLASS_RANK.items()) + " END"


def ahead_query(ticket: Ticket) -> tuple[str, list]:
    """SQL counting the waiting tickets that will be called before `ticket` (itself waiting),
    with its params: the queue's tickets of its class and the classes before it, less those of
    its class from it on. A new ticket, the last of its class, so walks no list of tickets
    however long the queue (queue lengths are kept by the database: migrations.QUEUE_LENGTHS)."""
    if ticket["target_window"] is not None:
        params = [ticket["target_window"]]
        length_of, same_queue = "target_window = ?", "target_window = ?"
    else:
        params = [ticket["service"]]
        length_of = "service = ? AND target_window = 0"
        same_queue = "service = ? AND target_window IS NULL"
    sql = (f"SELECT (SELECT coalesce(sum(waiting), 0) FROM queue_lengths WHERE {length_of}"
           f" AND {RANK_SQL} <= ?) - (SELECT count(*) FROM tickets WHERE status = 'waiting'"
           f" AND {same_queue} AND priority = ? AND (issued_at, id) >= (?, ?))")
    return sql, [*params, CLASS_RANK[ticket["priority"]],
                 *params, ticket["priority"], ticket["issued_at"], ticket["id"]]

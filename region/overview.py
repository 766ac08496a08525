"""What the company's live view shows of each hall, and the alerts across halls, read from
hall_status (the hall's last snapshot, region/ingest.py), hall_links (the link's health) and
hall_services (names and targets). The alert rules live here, and nowhere else: the pages only
show what these functions say.

Alerts, per hall (a disabled hall has none):
- `wait_over_target`: someone in a service has waited longer than its target;
- `predicted_over_target`: a service's predicted wait for a new ticket is past its target;
- `away_overdue`: a window's away has passed its limit;
- `silent`: no batch or heartbeat for `silent_minutes` (or never);
- `diverged`: the hall's log went back (restored from a backup); nothing is taken until an
  administrator decides (`hallq-region accept-restore`).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import psycopg

ALERT_TEXT = {
    "wait_over_target": "等候超时 · Wait past target",
    "predicted_over_target": "预计超时 · Predicted wait past target",
    "away_overdue": "暂离超时 · Away overdue",
    "silent": "失去联系 · Silent",
    "diverged": "数据回退 · Log diverged",
}

ROWS_SQL = """
SELECT h.id, h.name, h.disabled, l.acked_seq, l.backlog, l.last_event_at, l.last_contact_at,
       l.diverged_at_seq, l.diverged_detail, l.last_error, s.at, s.status
FROM halls h
LEFT JOIN hall_links l ON l.hall_id = h.id
LEFT JOIN hall_status s ON s.hall_id = h.id
WHERE (%(all)s OR h.id = ANY(%(ids)s))
ORDER BY h.id
"""


def hall_rows(conn: psycopg.Connection, ids: list[str] | None, silent_minutes: int,
              now: float | None = None) -> list[dict]:
    """One row per hall of `ids` (None: every hall) with its status, link and alerts."""
    now = time.time() if now is None else now
    rows = conn.execute(ROWS_SQL, {"all": ids is None, "ids": ids or []}).fetchall()
    names = service_names(conn, [r[0] for r in rows])
    return [_row(r, names.get(r[0], {}), silent_minutes, now) for r in rows]


def service_names(conn: psycopg.Connection, hall_ids: list[str]) -> dict[str, dict]:
    """{hall: {service: {"zh", "en"}}} as each hall's config names its services."""
    names: dict[str, dict] = {}
    for hall_id, service_id, name in conn.execute(
            "SELECT hall_id, service_id, name FROM hall_services WHERE hall_id = ANY(%s)",
            [hall_ids]):
        names.setdefault(hall_id, {})[service_id] = name
    return names


def _row(r: tuple, names: dict, silent_minutes: int, now: float) -> dict:
    (hall_id, name, disabled, acked, backlog, last_event, last_contact, diverged_seq,
     diverged_detail, last_error, status_at, status) = r
    link = {
        "acked_seq": acked or 0, "backlog": backlog or 0,
        "last_event_at": _iso(last_event), "last_contact_at": _iso(last_contact),
        "silent_minutes": None if last_contact is None
        else round((now - last_contact.timestamp()) / 60, 1),
        "diverged": diverged_seq is not None, "diverged_at_seq": diverged_seq,
        "diverged_detail": diverged_detail, "error": last_error,
    }
    row = {"id": hall_id, "name": name, "disabled": disabled, "link": link,
           "status_at": _iso(status_at), "status": _status(status, names)}
    row["alerts"] = [] if disabled else alerts(row, silent_minutes)
    return row


def _status(status: dict | None, names: dict) -> dict | None:
    """The hall's snapshot with each service's names and whether it is past its target."""
    if not isinstance(status, dict):
        return None
    services = []
    for s in status.get("services") or []:
        if not isinstance(s, dict):
            continue
        target = _number(s.get("target_wait_minutes"))
        longest, predicted = _number(s.get("longest_wait_min")), \
            _number(s.get("estimated_wait_min"))
        services.append({
            "id": s.get("id"), "name": names.get(s.get("id")) or {"zh": s.get("id"),
                                                                  "en": s.get("id")},
            "waiting": _number(s.get("waiting")) or 0, "longest_wait_min": longest,
            "estimated_wait_min": predicted, "target_wait_minutes": target,
            "over_target": bool(target is not None and longest is not None and longest > target),
            "predicted_over_target": bool(target is not None and predicted is not None
                                          and predicted > target)})
    windows = status.get("windows") if isinstance(status.get("windows"), dict) else {}
    devices = status.get("devices") if isinstance(status.get("devices"), dict) else {}
    offline = devices.get("offline") if isinstance(devices.get("offline"), list) else []
    return {
        "day": status.get("day"), "open": status.get("open"), "issuing": status.get("issuing"),
        "waiting": _number(status.get("waiting")) or 0,
        "longest_wait_min": _number(status.get("longest_wait_min")),
        "services": services,
        "windows": {k: _number(windows.get(k)) or 0 for k in ("total", "open", "away",
                                                              "overdue")},
        "devices": {"total": _number(devices.get("total")) or 0,
                    "offline": [str(d)[:64] for d in offline[:100]]},
    }


def alerts(row: dict, silent_minutes: int) -> list[dict]:
    """The alerts of one hall's row (see the module's docstring)."""
    found: list[dict] = []

    def alert(kind: str, detail: str = "", **extra: Any) -> None:
        found.append({"kind": kind, "hall_id": row["id"], "hall": row["name"],
                      "text": ALERT_TEXT[kind], "detail": detail, **extra})

    link, status = row["link"], row["status"]
    if link["diverged"]:
        alert("diverged", f"seq {link['diverged_at_seq']}")
    silent = link["silent_minutes"]
    if silent is None or silent >= silent_minutes:
        alert("silent", "从未联系 · never" if silent is None else f"{silent:g} min",
              minutes=silent)
    if status is None:
        return found
    late = [s for s in status["services"] if s["over_target"]]
    if late:
        alert("wait_over_target", ", ".join(
            f"{s['name'].get('zh')} {s['longest_wait_min']:g}/{s['target_wait_minutes']:g} min"
            for s in late), services=[s["id"] for s in late])
    predicted = [s for s in status["services"] if s["predicted_over_target"]]
    if predicted:
        alert("predicted_over_target", ", ".join(
            f"{s['name'].get('zh')} {s['estimated_wait_min']:g}/{s['target_wait_minutes']:g} min"
            for s in predicted), services=[s["id"] for s in predicted])
    if status["windows"]["overdue"]:
        alert("away_overdue", f"{status['windows']['overdue']:g}",
              windows=status["windows"]["overdue"])
    return found


def _number(value: Any) -> float | None:
    return value if type(value) in (int, float) else None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None

"""From the server's answer to the words printed on the ticket."""

from __future__ import annotations

from datetime import datetime

from hardware.printer import TicketText
from kiosk.words import slot_text


def status_url(ticket: dict, hall: dict, server_url: str) -> str:
    """The QR's address: the hall's public URL if configured, else the one the kiosk uses."""
    base = (hall.get("public_url") or server_url).rstrip("/")
    return base + ticket["status_url"]


def ticket_text(ticket: dict, state: dict, server_url: str) -> TicketText:
    hall = state["hall"]
    service = next((s for s in state["services"] if s["id"] == ticket["service"]), None)
    names = service["name"] if service else {"zh": ticket["service"], "en": ticket["service"]}
    issued = datetime.fromisoformat(ticket["issued_at"]).strftime("%Y-%m-%d %H:%M")
    booked = bool(ticket.get("slot"))
    return TicketText(
        hall_name=hall["name"],
        service_zh=names.get("zh", ""),
        service_en=names.get("en", ""),
        number=ticket["number"],
        priority=ticket.get("priority") or "normal",
        # An appointment is called at its slot: its slot is printed instead of a queue count.
        ahead=None if booked else ticket.get("ahead_low", ticket.get("ahead")),
        ahead_high=None if booked else ticket.get("ahead_high"),
        wait_min=None if booked else ticket.get("estimated_wait_min"),
        issued=issued,
        status_url=status_url(ticket, hall, server_url),
        footer=hall.get("ticket_footer") or "",
        slot=slot_text(ticket.get("slot")),
        wait_note="" if booked else ticket.get("estimate_note") or "",
    )

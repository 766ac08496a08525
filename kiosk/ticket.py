"""From the server's answer to the words printed on the ticket."""

from __future__ import annotations

from datetime import datetime

from hardware.printer import TicketText


def status_url(ticket: dict, hall: dict, server_url: str) -> str:
    """The QR's address: the hall's public URL if configured, else the one the kiosk uses."""
    base = (hall.get("public_url") or server_url).rstrip("/")
    return base + ticket["status_url"]


def ticket_text(ticket: dict, state: dict, server_url: str) -> TicketText:
    hall = state["hall"]
    service = next((s for s in state["services"] if s["id"] == ticket["service"]), None)
    names = service["name"] if service else {"zh": ticket["service"], "en": ticket["service"]}
    issued = datetime.fromisoformat(ticket["issued_at"]).strftime("%Y-%m-%d %H:%M")
    return TicketText(
        hall_name=hall["name"],
        service_zh=names.get("zh", ""),
        service_en=names.get("en", ""),
        number=ticket["number"],
        priority=ticket.get("priority") or "normal",
        ahead=ticket.get("ahead"),
        wait_min=ticket.get("estimated_wait_min"),
        issued=issued,
        status_url=status_url(ticket, hall, server_url),
        footer=hall.get("ticket_footer") or "",
        wait_note=ticket.get("estimate_note") or "",
    )

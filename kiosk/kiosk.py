"""What the kiosk does, apart from drawing: which screen shows, issuing, printing, reporting.

One tap gives one ticket: a tap (or a GPIO press) while a ticket is being issued is ignored, and
every attempt carries a `request_id`, so a retry after a dropped connection returns the ticket
the server already issued instead of a second one. The kiosk never makes up a number: it prints
only what the server answered.

A booked customer (预约) taps 预约取号 and types their 6-digit code on the keypad, or scans the
booking's QR: barcode readers type like a keyboard (digits, then Enter), so digits typed on
any screen open the keypad with them, and Enter checks in. The check-in goes the way of an issue
(request_id, retries, printing) and prints an appointment ticket with its slot.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from client.live import CommandFailed, LiveHall
from hardware.printer import PrintFailed, TicketPrinter
from kiosk.ticket import ticket_text

log = logging.getLogger("hallq.kiosk")

ISSUE_PATIENCE_S = 15.0  # keep retrying a dropped issue this long, then say "cannot issue"
RETRY_EVERY_S = 0.5
SHOW_TICKET_S = 12.0
SHOW_REFUSAL_S = 8.0
PRIORITY_SCREEN_S = 30.0
CODE_SCREEN_S = 45.0  # the keypad goes home after this long untouched
CODE_DIGITS = 6
# Refusals with a screen of their own (the rest show "refused" with the server's message).
REFUSAL_SCREENS = {"too_early": "too_early", "too_late": "too_late"}
SHOW_BOOKING_REFUSAL_S = 20.0  # time to read when check-in opens, or to take a normal ticket
TAP_GUARD_S = 0.8  # a second tap right after a screen change is the same finger
PRINTER_CHECK_S = 20.0
PRINTER_BLOCKS = ("no_paper", "offline", "cover_open", "error")
UNREACHABLE = ("offline", "timeout")


@dataclass
class KioskView:
    """One frame's worth of what to show (a copy: the drawing thread owns it)."""

    # home closed offline token_refused no_paper priority issuing issued refused unreachable
    # appointment (the code keypad) too_early too_late
    screen: str
    lang: str
    state: dict | None
    ticket: dict | None = None
    error: dict | None = None
    print_problem: str | None = None
    printer: tuple[str, str] = ("unknown", "")
    status_url: str | None = None
    retrying: bool = False
    services: list[dict] = field(default_factory=list)
    code: str = ""  # the booking code typed so far (appointment; issuing: checking in)


class Kiosk:
    def __init__(self, server_url: str, token: str, printer: TicketPrinter,
                 live: LiveHall | None = None, clock: Callable[[], float] = time.monotonic,
                 issue_patience: float = ISSUE_PATIENCE_S) -> None:
        self.server_url = server_url.rstrip("/")
        self.printer = printer
        self.clock = clock
        self.issue_patience = issue_patience
        self.live = live or LiveHall(server_url, token, on_connection=self._connection)
        self.lang = "zh"
        self._lock = threading.RLock()
        self._printer_lock = threading.Lock()
        self._report_lock = threading.Lock()
        self._screen = "home"
        self._shown_at = clock()
        self._until: float | None = None
        self._ticket: dict | None = None
        self._error: dict | None = None
        self._print_problem: str | None = None
        self._code = ""
        self._issuing = False
        self._retrying = False
        self.printer_state: tuple[str, str] = ("unknown", "")
        self._reported: tuple[str, str] | None = None
        self._stop = threading.Event()
        self.issued: list[dict] = []  # every ticket this kiosk handed out (tests, logs)

    # -- life --------------------------------------------------------------------------------
    def start(self, watch_printer: bool = True) -> None:
        self.live.start()
        if watch_printer:
            threading.Thread(target=self._watch_printer, name="kiosk-printer",
                             daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        self.live.stop()
        self.printer.close()

    def _connection(self, up: bool) -> None:
        if up:
            self._reported = None  # tell the server again after every reconnect

    # -- what to show ----------------------------------------------------------------------------
    def offering(self) -> str:
        """Why the home screen offers tickets or not: home, offline, token_refused, closed,
        no_paper."""
        state = self.live.state
        if state is None or not self.live.connected:
            return "token_refused" if self.live.refused else "offline"
        if not state["hall"].get("issuing", True):
            return "closed"
        if state["hall"].get("no_paper_no_ticket") and self.printer_state[0] in PRINTER_BLOCKS:
            return "no_paper"
        return "home"

    def checking_in_offered(self) -> bool:
        """Booked customers check in while the kiosk issues, and also after the last ticket
        or during a pause: their slot was promised (the server has the last word)."""
        return self.offering() in ("home", "closed")

    def view(self) -> KioskView:
        self.tick()
        with self._lock:
            screen = self._screen
            if screen == "home":
                screen = self.offering()
            state = self._state_copy()
            url = None
            if self._ticket and state:
                url = ticket_text(self._ticket, state, self.server_url).status_url
            return KioskView(screen=screen, lang=self.lang, state=state,
                             ticket=self._ticket, error=self._error,
                             print_problem=self._print_problem, printer=self.printer_state,
                             status_url=url, retrying=self._retrying, code=self._code)

    def _state_copy(self) -> dict | None:
        # LiveHall applies events under its own lock from Socket.IO threads.
        with getattr(self.live, "_lock", threading.RLock()):
            return copy.deepcopy(self.live.state)

    def tick(self) -> None:
        """Time passing: a shown ticket or refusal goes back to the home screen."""
        with self._lock:
            if self._until is not None and self.clock() >= self._until and not self._issuing:
                self._show("home")

    def _show(self, screen: str, seconds: float | None = None, **fields: Any) -> None:
        with self._lock:
            self._screen = screen
            self._shown_at = self.clock()
            self._until = self._shown_at + seconds if seconds else None
            self._ticket = fields.get("ticket")
            self._error = fields.get("error")
            self._print_problem = fields.get("print_problem")
            self._code = fields.get("code", "")
            if screen == "home" and not fields.get("keep_lang"):
                self.lang = "zh"  # the next customer starts in the hall's language

    # -- taps --------------------------------------------------------------------------------
    def tap(self, action: tuple) -> None:
        """A touch on a button (`action` as the screen drew it), or anywhere: ("background",)."""
        with self._lock:
            if self._issuing or self.clock() - self._shown_at < TAP_GUARD_S:
                return
            screen = self._screen
            kind = action[0]
            if kind == "lang":
                self.lang = "en" if self.lang == "zh" else "zh"
            elif screen == "home" and kind == "service":
                self.request_ticket(action[1])
            elif screen == "home" and kind == "priority":
                if self.offering() == "home":
                    self._show("priority", PRIORITY_SCREEN_S)
            elif screen == "priority" and kind == "service":
                self.request_ticket(action[1], "priority")
            elif screen == "priority" and kind == "cancel":
                self._show("home", keep_lang=True)
            elif screen == "home" and kind == "appointment":
                if self.checking_in_offered():
                    self._show("appointment", CODE_SCREEN_S)
            elif screen == "appointment":
                self._keypad(kind, action[1:])
            elif screen == "too_late" and kind == "service":
                self.request_ticket(action[1])
            elif screen in ("issued", "refused", "unreachable", "too_early", "too_late"):
                self._show("home")

    def _keypad(self, kind: str, args: tuple) -> None:
        if kind == "digit" and len(self._code) < CODE_DIGITS:
            self._typed(self._code + args[0])
        elif kind == "delete":
            self._typed(self._code[:-1])
        elif kind == "check_in":
            self.check_in()
        elif kind == "cancel":
            self._show("home", keep_lang=True)

    def _typed(self, code: str) -> None:
        """The keypad shows `code`, and waits its full time again."""
        self._until = self.clock() + CODE_SCREEN_S
        self._code = code

    def key(self, char: str) -> None:
        """A key from a keyboard or a barcode reader that types like one: digits fill the code
        (the last six count: a reader may type more), Enter checks in, Backspace deletes."""
        with self._lock:
            if self._issuing:
                return
            if char.isdigit() and char.isascii():
                if self._screen != "appointment":
                    if not self.checking_in_offered():
                        return
                    self._show("appointment", CODE_SCREEN_S, keep_lang=True)
                self._typed((self._code + char)[-CODE_DIGITS:])
            elif self._screen == "appointment" and char in ("\r", "\n"):
                self.check_in()
            elif self._screen == "appointment" and char == "\b":
                self._typed(self._code[:-1])

    def check_in(self) -> bool:
        """Check the typed code in; False (and nothing happens) unless it has six digits."""
        with self._lock:
            if self._issuing or len(self._code) != CODE_DIGITS:
                return False
            code = self._code
            self._issuing = True
            self._retrying = False
            self._show("issuing", code=code)
        self._start("check-in", {"code": code})
        return True

    def request_ticket(self, service: str, priority: str = "normal") -> bool:
        """Start issuing one ticket; False (and nothing happens) if one is under way or the
        kiosk is not offering tickets now."""
        with self._lock:
            if self._issuing or self.offering() != "home":
                return False
            if self._screen not in ("home", "priority") and self.clock() - self._shown_at < \
                    TAP_GUARD_S:
                return False
            self._issuing = True
            self._retrying = False
            self._show("issuing")
        self._start("issue", {"service": service, "priority": priority})
        return True

    def _start(self, command: str, fields: dict) -> None:
        fields = {**fields, "request_id": uuid.uuid4().hex}
        threading.Thread(target=self._issue, args=(command, fields), name="kiosk-issue",
                         daemon=True).start()

    @property
    def busy(self) -> bool:
        return self._issuing

    # -- issuing -------------------------------------------------------------------------------
    def _issue(self, command: str, fields: dict) -> None:
        """Issue a ticket or check a booking in (`command`), print it and show it."""
        try:
            answer = self._ask_server(command, fields)
            if answer is None:
                return
            ticket = answer["ticket"]
            problem = self._print(ticket)
            with self._lock:
                self.issued.append(ticket)
                self._show("issued", SHOW_TICKET_S, ticket=ticket, print_problem=problem)
        except Exception:
            log.exception("issuing failed")
            self._show("unreachable", SHOW_REFUSAL_S)
        finally:
            with self._lock:
                self._issuing = False
                self._retrying = False

    def _ask_server(self, command: str, fields: dict) -> dict | None:
        deadline = self.clock() + self.issue_patience
        while True:
            try:
                return self.live.command(command, **fields)
            except CommandFailed as failure:
                if failure.code not in UNREACHABLE:
                    error = {"code": failure.code, "message": failure.message,
                             **failure.answer.get("error", {})}
                    screen = REFUSAL_SCREENS.get(failure.code, "refused")
                    self._show(screen, SHOW_REFUSAL_S if screen == "refused" else
                               SHOW_BOOKING_REFUSAL_S, error=error)
                    return None
                if self.clock() >= deadline or self._stop.is_set():
                    log.warning("no answer to %s %s: %s", command, fields["request_id"],
                                failure.message)
                    self._show("unreachable", SHOW_REFUSAL_S)
                    return None
                self._retrying = True
                self._stop.wait(RETRY_EVERY_S)

    def _print(self, ticket: dict) -> str | None:
        """Print the ticket; the printer's trouble state if it did not come out."""
        text = ticket_text(ticket, self.live.state, self.server_url)
        with self._printer_lock:
            try:
                self.printer.print_ticket(text)
            except PrintFailed as failure:
                self._printer_now(failure.state, failure.detail)
                return failure.state
            if self.printer_state[0] in PRINTER_BLOCKS:
                self._printer_now(*self.printer.status())
        return None

    # -- the printer's state ---------------------------------------------------------------------
    def check_printer(self) -> tuple[str, str]:
        with self._printer_lock:
            state = self.printer.status()
        self._printer_now(*state)
        return state

    def _printer_now(self, state: str, detail: str) -> None:
        if (state, detail) != self.printer_state:
            log.info("printer: %s %s", state, detail)
        self.printer_state = (state, detail)
        # Reported from a thread of its own: a slow server must not hold up the screen.
        threading.Thread(target=self.report_printer, name="kiosk-report", daemon=True).start()

    def report_printer(self) -> bool:
        """Tell the server the printer's state if it has not heard it yet."""
        with self._report_lock:
            if self._reported == self.printer_state or not self.live.connected:
                return False
            state, detail = self.printer_state
            try:
                self.live.command("printer", state=state, detail=detail[:200])
            except CommandFailed as failure:
                log.info("printer report not delivered: %s", failure.message)
                return False
            self._reported = (state, detail)
            return True

    def _watch_printer(self) -> None:
        next_check = 0.0
        while not self._stop.is_set():
            if self.clock() >= next_check and not self._issuing:
                next_check = self.clock() + PRINTER_CHECK_S
                try:
                    self.check_printer()
                except Exception:
                    log.exception("printer check failed")
            self.report_printer()
            self._stop.wait(1.0)

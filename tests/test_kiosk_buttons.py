"""GPIO service buttons (button-only dispensers) on gpiozero's MockFactory."""

import pytest
from escpos.printer import Dummy
from gpiozero.pins.mock import MockFactory
from support import KIOSK, wait_until
from test_printer_decode import decode

from hardware.kiosk_buttons import ServiceButtons
from hardware.printer import TicketPrinter
from kiosk.kiosk import Kiosk


class Clock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def factory():
    f = MockFactory()
    yield f
    f.reset()


def press(factory, pin: int) -> None:
    factory.pin(pin).drive_low()  # pull-up button: pressed pulls the pin to ground
    factory.pin(pin).drive_high()


def test_each_button_names_its_service_and_presses_close_together_count_once(factory):
    clock = Clock()
    presses = []
    buttons = ServiceButtons({17: "pay", 27: "account"}, presses.append, pin_factory=factory,
                             clock=clock)
    try:
        press(factory, 17)
        clock.now += 0.3
        press(factory, 17)  # a double press
        press(factory, 27)  # or a second button at once
        assert presses == ["pay"]
        clock.now += 2
        press(factory, 27)
        assert presses == ["pay", "account"]
    finally:
        buttons.close()


def test_a_double_press_gives_one_ticket(server, factory):
    device = Dummy()
    clock = Clock()
    kiosk = Kiosk(server.url, KIOSK, TicketPrinter(device), clock=clock)
    kiosk.start(watch_printer=False)
    buttons = ServiceButtons({17: "pay", 22: "repair"}, kiosk.request_ticket,
                             pin_factory=factory, clock=clock)
    try:
        wait_until(lambda: kiosk.live.connected and kiosk.live.state, timeout=10)
        press(factory, 17)
        press(factory, 17)
        wait_until(lambda: kiosk.issued and not kiosk.busy, timeout=10)
        clock.now += 0.5
        press(factory, 17)  # still within the guard, even after the ticket came out
        assert [t["number"] for t in kiosk.issued] == ["A001"]
        assert decode(device.output).big() == ["A001"]

        clock.now += 5  # the next customer
        press(factory, 22)
        wait_until(lambda: len(kiosk.issued) == 2 and not kiosk.busy, timeout=10)
        assert kiosk.issued[1]["number"] == "G001"
        state = server.get("/api/v1/state").json()
        waiting = {s["id"]: s["waiting"] for s in state["services"]}
        assert waiting["pay"] == 1 and waiting["repair"] == 1
    finally:
        buttons.close()
        kiosk.stop()

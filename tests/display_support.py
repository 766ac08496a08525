"""Scenes for the display tests: the in-process demo hall driven like clerks and a kiosk would."""

from __future__ import annotations

from display.model import DisplayModel
from hall.hall import Hall

CLERKS = {1: ("1001", "1234"), 2: ("1002", "2345"), 3: ("1003", "3456"), 4: ("1004", "4567"),
          5: ("1005", "5678"), 6: ("1006", "6789")}


class Scene:
    """Drives the in-process hall like clerks and a kiosk would."""

    def __init__(self, hall: Hall) -> None:
        self.hall = hall
        self.kiosk = hall.authenticate("demo-kiosk-1-token")
        self.clerks = {}

    def open(self, *windows: int) -> Scene:
        for n in windows:
            staff, pin = CLERKS[n]
            token = self.hall.login(staff, pin, n)["token"]
            self.clerks[n] = self.hall.authenticate(token)
        return self

    def issue(self, service: str, count: int = 1) -> Scene:
        for _ in range(count):
            self.hall.issue(self.kiosk, service, "normal")
        return self

    def do(self, window: int, command: str, **body) -> Scene:
        self.hall.window_command(self.clerks[window], window, command, body)
        return self

    def model(self, connected: bool = True) -> DisplayModel:
        model = DisplayModel()
        model.on_state(self.hall.state())
        model.on_connection(connected)
        return model


def busy_hall(hall: Hall) -> Scene:
    scene = Scene(hall).open(1, 2, 3, 4, 5)
    scene.issue("pay", 9).issue("account", 3).issue("enquiry", 2).issue("complaint", 1)
    scene.do(1, "call-next").do(1, "start").do(2, "call-next").do(2, "start")
    scene.do(4, "call-next").do(5, "call-next").do(5, "start")
    scene.do(3, "call-next").do(3, "start").do(3, "finish")
    scene.do(3, "call-next")
    return scene

"""kill -9 in the middle of a busy morning: nothing acknowledged is lost, nothing duplicated,
and every device finds its way back on its own."""

import sqlite3
import threading
import time
import uuid

from support import DISPLAY, KIOSK, ServerProcess, wait_until

from client.live import CommandFailed, LiveHall


class Kiosk(threading.Thread):
    """Issues tickets in a loop; a tap not acknowledged is retried with the same request id."""

    def __init__(self, url, service):
        super().__init__(daemon=True)
        self.live = LiveHall(url, token=KIOSK, command_timeout=2)
        self.service = service
        self.acked: list[dict] = []
        self.stop = threading.Event()

    def run(self):
        self.live.start()
        request_id = str(uuid.uuid4())
        while not self.stop.is_set():
            try:
                answer = self.live.command("issue", service=self.service, request_id=request_id)
            except CommandFailed:
                time.sleep(0.05)  # server gone: keep the same request id for the retry
                continue
            self.acked.append(answer["ticket"])
            request_id = str(uuid.uuid4())
            time.sleep(0.01)


def test_kill_9_while_kiosks_issue_loses_and_duplicates_nothing(tmp_path):
    db = tmp_path / "hall.db"
    server = ServerProcess(db).start()
    display = LiveHall(server.url, token=DISPLAY)
    display.start()
    display.wait_for_state()
    kiosks = [Kiosk(server.url, service) for service in ("pay", "pay", "account", "enquiry")]
    for kiosk in kiosks:
        kiosk.start()
    wait_until(lambda: all(len(k.acked) >= 5 for k in kiosks), timeout=20)

    server.kill()
    acked_before = sum(len(k.acked) for k in kiosks)
    wait_until(lambda: not display.connected, timeout=20)
    time.sleep(0.5)  # the kiosks keep tapping a dead server

    again = ServerProcess(db, port=server.port).start()
    try:
        wait_until(lambda: all(k.live.connected for k in kiosks), timeout=20)
        wait_until(lambda: sum(len(k.acked) for k in kiosks) >= acked_before + 8, timeout=20)
        for kiosk in kiosks:
            kiosk.stop.set()
            kiosk.join(5)
        wait_until(lambda: display.connected, timeout=20)
        # the display resynced: its copy matches the server's
        wait_until(lambda: display.state["seq"] == again.get("/api/v1/state").json()["seq"],
                   timeout=10)

        rows = sqlite3.connect(db).execute("SELECT public_id, day, number FROM tickets"
                                           ).fetchall()
        stored = {r[0] for r in rows}
        acked = [t for k in kiosks for t in k.acked]
        assert {t["public_id"] for t in acked} <= stored, "an acknowledged ticket was lost"
        assert len({(r[1], r[2]) for r in rows}) == len(rows), "a number was given twice"
        assert len({t["public_id"] for t in acked}) == len(acked), "a tap was issued twice"
        for service, prefix in (("pay", "A"), ("account", "B"), ("enquiry", "E")):
            numbers = sorted(int(r[2][1:]) for r in rows if r[2].startswith(prefix))
            assert numbers == list(range(1, len(numbers) + 1)), f"{service}: gap in numbers"
    finally:
        for kiosk in kiosks:
            kiosk.live.stop()
        display.stop()
        again.stop()

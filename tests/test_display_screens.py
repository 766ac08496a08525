"""The wall screen: what it shows (pure view model) and how it looks (pygame rendered to PNG).

Scenes come from the real hall (the `hall` fixture: demo config, real SQLite, a fake clock),
so the renderer sees exactly the snapshots the server sends. The PNGs land in test-artifacts/
for people to look at.
"""

from __future__ import annotations

import pygame
import pytest
from display_support import Scene, busy_hall

from display.render import FontMissingError, Renderer, find_font
from display.view import build_screen


def screen_of(scene: Scene, connected: bool = True, live_call: bool = True):
    model = scene.model(connected)
    now = scene.hall.clock()
    # The fake clock stands still, so every call in the snapshot is "fresh": the newest is lit.
    return build_screen(*model.snapshot(), now,
                        highlight=(lambda c: 5.0) if live_call else (lambda c: 0.0))


def render(screen, path, size=(1920, 1080), t=0.0):
    renderer = Renderer(size)
    surface = pygame.Surface(size)
    renderer.draw(surface, screen, t)
    pygame.image.save(surface, str(path))
    return surface


# -- the view model, without pygame ---------------------------------------------------------------

def test_quiet_hall_shows_windows_hours_and_no_call(hall):
    screen = screen_of(Scene(hall).open(1, 2))
    assert screen.current is None and screen.history == ()
    assert [t.kind for t in screen.windows] == ["idle", "idle", "closed", "closed", "closed",
                                                "closed"]
    assert screen.windows[0].status == ("空闲", "Free")
    assert screen.windows[2].status == ("暂停服务", "Closed")
    assert screen.hours.startswith("营业时间 00:00–24:00")
    assert screen.issuing_note == () and not screen.issuing_stopped
    assert screen.date == ("2026年11月23日 星期一", "Mon 23 Nov 2026")
    assert screen.clock == "09:30"
    assert "投诉电话 12345" in screen.notice
    assert not screen.offline


def test_call_in_progress_shows_the_newest_call_big_and_the_ones_before(hall):
    screen = screen_of(busy_hall(hall))
    assert (screen.current.number, screen.current.window) == ("B002", 3)
    assert screen.current.go_to == ("请到 3号窗口", "Please go to Window 3")
    assert [(c.number, c.window) for c in screen.history] == [
        ("B001", 3), ("E001", 5), ("A003", 4), ("A002", 2), ("A001", 1)]
    tiles = {t.number: t for t in screen.windows}
    assert (tiles[1].kind, tiles[1].ticket) == ("serving", "A001")
    assert (tiles[4].kind, tiles[4].ticket) == ("calling", "A003")
    assert (tiles[3].kind, tiles[3].ticket) == ("calling", "B002")
    assert (tiles[6].kind, tiles[6].ticket) == ("closed", None)
    waiting = {s.prefix: s.waiting for s in screen.services}
    assert waiting == {"A": 6, "B": 1, "C": 0, "D": 0, "E": 1, "F": 1, "G": 0}
    waits = {s.prefix: s.wait for s in screen.services}
    assert waits["A"][0].startswith("约") and waits["A"][1].endswith(" min")
    assert waits["C"] == ()  # nobody waits: no figure


def test_the_waiting_panel_says_when_no_window_serves_a_service(hall, artifacts):
    scene = Scene(hall).open(1).issue("pay", 3).issue("account", 2)  # window 1: pay, enquiry
    screen = screen_of(scene)
    waits = {s.prefix: s.wait for s in screen.services}
    assert waits["A"] == ("约12分钟", "~12 min")  # one window, 4 minutes each: 0, 4, 8, then 12
    assert waits["B"] == ("暂无窗口", "no window now")
    render(screen, artifacts / "display-waiting-panel.png")


def test_recall_is_the_current_call_again_and_listed_once(hall):
    scene = busy_hall(hall).do(4, "recall")
    screen = screen_of(scene)
    assert (screen.current.number, screen.current.recalls) == ("A003", 1)
    assert [c.number for c in screen.history].count("A003") == 0


def test_a_finished_call_leaves_the_big_panel_for_the_latest_call_still_open(hall):
    scene = busy_hall(hall).do(3, "start").do(3, "finish")  # B002, the newest call, is done
    screen = screen_of(scene)
    assert (screen.current.number, screen.current.window) == ("E001", 5)
    assert screen.current.highlight == 0  # not a new call: no blinking
    assert [c.number for c in screen.history][:2] == ["B002", "B001"]


@pytest.mark.parametrize("leaves", ["away", "close"])
def test_a_call_whose_window_went_away_or_closed_is_no_longer_now_calling(hall, leaves):
    scene = Scene(hall).open(1).issue("pay", 2).do(1, "call-next").do(1, "finish")
    scene.do(1, "away", reason="暂离") if leaves == "away" else scene.do(1, "close")
    screen = screen_of(scene)
    assert screen.current is None
    assert [c.number for c in screen.history] == ["A001"]


def test_a_recalled_number_is_listed_once_with_its_recall_count(hall):
    scene = busy_hall(hall).do(4, "recall").do(4, "recall").do(4, "start").do(4, "finish")
    screen = screen_of(scene)
    listed = [(c.number, c.recalls) for c in screen.history]
    assert listed.count(("A003", 2)) == 1 and [n for n, _ in listed].count("A003") == 1


def test_screen_shows_numbers_never_names(hall):
    text = screen_of(busy_hall(hall)).all_text()
    for staff in hall.config.staff:
        assert staff.name not in text
    assert "B002" in text


def test_away_window_shows_reason(hall):
    screen = screen_of(Scene(hall).open(1, 2, 3).do(3, "away", reason="午休"))
    tile = screen.windows[2]
    assert (tile.kind, tile.status, tile.detail) == ("away", ("暂时离开", "Temporarily away"),
                                                     "午休 · Lunch")


def test_away_reason_in_the_displays_languages(hall):
    """The stored reason is Chinese; the display shows it in each of its languages, and a
    clerk's own words once."""
    state = Scene(hall).open(1, 2).do(1, "away", reason="会议").do(2, "away", reason="去取资料")
    screen = screen_of(state)
    assert [w.detail for w in screen.windows[:2]] == ["会议 · Meeting", "去取资料"]


def test_after_last_ticket_says_stop_issuing(hall, clock):
    scene = Scene(hall).open(1).issue("pay", 2)
    clock.set("2026-11-23 23:57")
    screen = screen_of(scene)
    assert screen.issuing_stopped
    assert screen.issuing_note[0] == "停止取号  No more tickets today"
    assert "已取号的客户" in screen.issuing_note[1]


def test_english_first_hall_puts_english_first(hall):
    model = Scene(hall).model()
    state, _ = model.snapshot()
    state["hall"]["languages"] = ["en", "zh"]
    screen = build_screen(state, True, hall.clock())
    assert screen.windows[0].status == ("Closed", "暂停服务")
    assert screen.hours.startswith("Hours")


def test_no_state_yet_is_a_connecting_screen():
    screen = build_screen(None, False, 0)
    assert screen.connecting


# -- rendered to PNG ----------------------------------------------------------------------------

@pytest.fixture(scope="module", autouse=True)
def pygame_headless():
    pygame.display.init()
    yield
    pygame.display.quit()


def has_ink(surface: pygame.Surface, rect: pygame.Rect, background) -> bool:
    """True when something other than the background colour is painted inside `rect`."""
    sub = surface.subsurface(rect)
    colors = {tuple(sub.get_at((x, y)))[:3] for x in range(0, rect.width, 3)
              for y in range(0, rect.height, 3)}
    return len(colors - {tuple(background)}) > 0


def test_chinese_glyphs_are_real_not_boxes():
    """A missing glyph renders as the same box for every character: distinct characters must
    give distinct pictures."""
    renderer = Renderer((1920, 1080))
    to_bytes = getattr(pygame.image, "tobytes", None) or pygame.image.tostring  # Debian's 2.1.2
    shots = [to_bytes(renderer.text(c, 60, (255, 255, 255)), "RGBA")
             for c in ("请", "号", "窗", "口", "暂", "离")]
    assert len(set(shots)) == len(shots)


def test_font_search_fails_clearly():
    with pytest.raises(FontMissingError, match="fonts-noto-cjk"):
        find_font([("/nowhere/font.ttc", 0)])


SCENES = ["quiet", "calling", "away", "closed", "stopped", "offline", "recalled"]


@pytest.mark.parametrize("name", SCENES)
def test_scene_renders_to_png(hall, clock, artifacts, name):
    scene = Scene(hall)
    if name == "quiet":
        scene.open(1, 2, 3, 4, 5, 6)
    elif name == "calling":
        scene = busy_hall(hall)
    elif name == "away":
        scene = busy_hall(hall).open(6).do(6, "away", reason="午休")
    elif name == "closed":
        scene = busy_hall(hall)
        scene.do(5, "finish").do(5, "close").do(2, "finish").do(2, "close")
    elif name == "stopped":
        scene = busy_hall(hall)
        clock.set("2026-11-23 23:58")
    elif name == "offline":
        scene = busy_hall(hall)
    elif name == "recalled":  # A003 called three times, then served; B002 finished
        scene = busy_hall(hall).do(4, "recall").do(4, "recall").do(4, "start").do(4, "finish")
        scene.do(3, "start").do(3, "finish")
    screen = screen_of(scene, connected=name != "offline", live_call=name == "calling")
    path = artifacts / f"display-{name}.png"
    surface = render(screen, path)
    assert path.stat().st_size > 20_000
    # the big number and the windows band are painted
    if screen.current:
        assert has_ink(surface, pygame.Rect(40, 230, 1160, 240), surface.get_at((60, 300)))
    if name == "offline":
        assert tuple(surface.get_at((3, 540)))[:3] == (210, 0, 0)  # the red frame


def test_small_tv_layout_scales(hall, artifacts):
    screen = screen_of(busy_hall(hall))
    surface = render(screen, artifacts / "display-calling-1280x720.png", size=(1280, 720))
    assert surface.get_size() == (1280, 720)


def test_blink_alternates_the_current_call_panel(hall):
    screen = screen_of(busy_hall(hall))
    renderer = Renderer((1280, 720))
    surface = pygame.Surface((1280, 720))
    renderer.draw(surface, screen, 0.0)
    lit = tuple(surface.get_at((30, 100)))[:3]
    renderer.draw(surface, screen, 0.6)
    dark = tuple(surface.get_at((30, 100)))[:3]
    assert lit == (255, 176, 0) and dark != lit


def test_working_days_are_shown_unless_open_every_day(hall):
    state, _ = Scene(hall).model().snapshot()
    hours = state["hall"]["hours"]
    hours.update(days=["mon", "tue", "wed", "thu", "fri"], open="09:00", close="17:00",
                 breaks=[["12:00", "13:00"]])
    assert build_screen(state, True, hall.clock()).hours == \
        "营业时间 周一至周五 09:00–17:00  午休 12:00–13:00"
    hours["days"] = ["mon", "wed"]
    state["hall"]["languages"] = ["en"]
    assert build_screen(state, True, hall.clock()).hours == "Hours Mon, Wed 09:00–17:00  Break " \
        "12:00–13:00"


def test_notice_and_issuing_changes_reach_the_screen(hall):
    model = Scene(hall).model()
    seq = model.snapshot()[0]["seq"]
    model.on_event("notice", {"seq": seq + 1, "text": "今日系统升级 · System upgrade today"})
    hall_part = dict(model.snapshot()[0]["hall"], issuing=False, issuing_reason="paused",
                     next_issuing_at="2026-11-23T10:15:00+08:00")
    model.on_event("hall", {"seq": seq + 2, "hall": hall_part})
    screen = build_screen(*model.snapshot(), hall.clock())
    assert screen.notice == "今日系统升级 · System upgrade today"
    assert screen.issuing_note == ("暂停取号 10:15 起取号", "Not issuing tickets now from 10:15")
    assert not screen.issuing_stopped


def test_a_big_hall_with_long_texts_still_fits(hall, artifacts):
    """12 windows in two rows, a 40-character away reason, a long notice, English first."""
    state, _ = busy_hall(hall).model().snapshot()
    base = state["windows"][-1]
    for n in range(7, 13):
        state["windows"].append(dict(base, number=n, name={"zh": f"{n}号窗口",
                                                           "en": f"Window {n}"}))
    reason = "到后台为客户查询资料，请稍候片刻" * 2
    state["windows"][8].update(status="away", away={"reason": reason})
    state["hall"]["languages"] = ["en", "zh"]
    state["hall"]["notice"] = "Service commitment: one-time notification. " * 5
    screen = build_screen(state, True, hall.clock(), highlight=lambda c: 3.0)
    assert len(screen.windows) == 12 and screen.current.go_to[0] == "Please go to Window 3"
    render(screen, artifacts / "display-big-hall.png")


def test_a_four_digit_call_renders_big(tmp_path, clock, artifacts):
    from support import demo_toml, migrated

    from hall.config import parse_config
    from hall.hall import Hall
    from hall.store import Store

    raw = demo_toml()
    raw["hall"]["number_digits"] = 4
    raw["services"][1]["prefix"] = "BA"
    hall = Hall(parse_config(raw), Store(migrated(tmp_path / "h.db")), clock=clock)
    screen = screen_of(busy_hall(hall))
    assert (screen.current.number, screen.current.window) == ("BA0002", 3)
    surface = render(screen, artifacts / "display-calling-4-digits.png")
    assert has_ink(surface, pygame.Rect(40, 230, 1160, 240), surface.get_at((60, 300)))


def test_a_green_channel_or_vip_call_shows_its_class_beside_the_number(hall, artifacts):
    scene = Scene(hall).open(1, 2, 4)
    hall.issue(scene.kiosk, "pay", "priority")
    hall.issue(scene.kiosk, "pay", "vip")
    scene.issue("pay", 2)
    scene.do(1, "call-next").do(2, "call-next").do(2, "recall").do(4, "call-next")
    screen = screen_of(scene)
    assert (screen.current.number, screen.current.mark) == ("A003", ())
    marks = {c.number: c.mark for c in screen.history}
    assert marks == {"A002": ("贵宾", "VIP"), "A001": ("绿色通道", "Priority")}
    first = screen_of(scene.do(4, "start").do(4, "finish").do(2, "start"))
    assert (first.current.number, first.current.mark) == ("A002", ("贵宾", "VIP"))
    render(screen, artifacts / "display-marks.png")
    render(first, artifacts / "display-marks-current.png")

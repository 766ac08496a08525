"""The estimator's rules on small halls worked out by hand (times in seconds from now = 0)."""

from support import demo_toml

from hall import estimate, forecast
from hall.auth import Actor
from hall.config import Window, parse_config
from hall.estimate import WindowPlan
from hall.hall import Hall

MIN = 60


def window(number: int, *services: str, flags: tuple = ()) -> Window:
    return Window(number, {"zh": f"{number}号", "en": f"No. {number}"}, services, flags)


def ticket(id_: int, service: str, issued_at: float, priority: str = "normal",
           target_window: int | None = None) -> dict:
    return {"id": id_, "service": service, "issued_at": issued_at, "priority": priority,
            "target_window": target_window}


def plan(w: Window, free_at: float = 0, present: bool = True, **minutes: float) -> WindowPlan:
    return WindowPlan(w, free_at, {s: m * MIN for s, m in minutes.items()}, present)


def test_two_windows_sharing_two_services_call_in_the_policys_order():
    # Window 1 takes pay and enquiry at 4 minutes each; window 2 only enquiry, at 6.
    # 0: window 1 calls P1 (oldest), window 2 calls E1. 4: window 1 calls P2 (older than
    # E2). 6: window 2 calls E2, before window 1 is free again at 8.
    plans = [plan(window(1, "pay", "enquiry"), pay=4, enquiry=4),
             plan(window(2, "enquiry"), enquiry=6)]
    waiting = [ticket(1, "pay", -10), ticket(2, "enquiry", -9), ticket(3, "pay", -8),
               ticket(4, "enquiry", -7)]
    result = estimate.forecast(0, plans, waiting, "priority_first")
    assert result.call_at == {1: 0, 2: 0, 3: 4 * MIN, 4: 6 * MIN}
    # ahead counts the calls of the windows that may call the ticket: P2 only window 1's (P1),
    # E2 both windows' (P1, E1, P2)
    assert result.ahead == {1: 0, 2: 1, 3: 1, 4: 3}
    assert [result.wait_minutes(i) for i in (1, 2, 3, 4)] == [0, 0, 4, 6]


def test_an_away_window_calls_when_its_clerk_is_expected_back():
    # Window 1 is away until 10; window 2 is busy until 2, then 4 minutes a customer:
    # 2 P1, 6 P2; at 10 both are free and window 1 (the lower number) takes P3.
    plans = [plan(window(1, "pay"), free_at=10 * MIN, present=False, pay=4),
             plan(window(2, "pay"), free_at=2 * MIN, pay=4)]
    waiting = [ticket(i, "pay", -10 + i) for i in (1, 2, 3)]
    result = estimate.forecast(0, plans, waiting, "priority_first")
    assert result.call_at == {1: 2 * MIN, 2: 6 * MIN, 3: 10 * MIN}


def test_no_window_calls_in_a_break_of_the_hours():
    # One window, 4 minutes a customer, a break from 5 to 65: P1 at 0, P2 at 4. The clerk
    # serves P2 until 8, then takes the whole hour: P3 at 68.
    plans = [plan(window(1, "pay"), pay=4)]
    waiting = [ticket(i, "pay", -10 + i) for i in (1, 2, 3)]
    result = estimate.forecast(0, plans, waiting, "priority_first",
                               breaks=[(5 * MIN, 65 * MIN)])
    assert result.call_at == {1: 0, 2: 4 * MIN, 3: 68 * MIN}
    assert result.ahead[3] == 2


def test_a_clerk_serving_when_lunch_begins_lunches_after_the_customer():
    # Lunch from 1 to 61. Window 1 has served someone since -1 and is done at 3: it lunches
    # 3 to 63. Window 2 is away and back at 3, serving nobody when lunch began: it comes
    # back at 61 like the hours say.
    busy = plan(window(1, "pay"), free_at=3 * MIN, pay=4)
    busy.serving_since = -1 * MIN
    result = estimate.forecast(0, [busy], [ticket(1, "pay", -5)], "priority_first",
                               breaks=[(1 * MIN, 61 * MIN)])
    assert result.call_at == {1: 63 * MIN}
    away = plan(window(2, "pay"), free_at=3 * MIN, present=False, pay=4)
    result = estimate.forecast(0, [away], [ticket(1, "pay", -5)], "priority_first",
                               breaks=[(1 * MIN, 61 * MIN)])
    assert result.call_at == {1: 61 * MIN}


def test_a_windows_own_break_a_staggered_lunch_pauses_that_window_only():
    # Windows 1 and 2 take pay at 4 minutes; window 1 lunches from 5 to 65 (from 8, when P3
    # is done). 0: P1, P2; 4: P3 (window 1), P4 (window 2); 8: window 2 takes P5.
    plans = [plan(window(1, "pay"), pay=4), plan(window(2, "pay"), pay=4)]
    plans[0].breaks = [(5 * MIN, 65 * MIN)]
    waiting = [ticket(i, "pay", -10 + i) for i in (1, 2, 3, 4, 5)]
    result = estimate.forecast(0, plans, waiting, "priority_first")
    assert result.call_at == {1: 0, 2: 0, 3: 4 * MIN, 4: 4 * MIN, 5: 8 * MIN}


def test_an_expected_green_channel_arrival_goes_first_and_counts_as_ahead():
    # The window is busy until 2; a green-channel ticket is expected at 1: it is called at
    # 2, the normal ticket waiting since before at 6, with one ahead.
    plans = [plan(window(1, "pay"), free_at=2 * MIN, pay=4)]
    arrivals = estimate.expected_arrivals(0, {("pay", "priority"): 30}, until=3 * MIN)
    assert [(a["issued_at"], a["priority"]) for a in arrivals] == [(1 * MIN, "priority")]
    result = estimate.forecast(0, plans, [ticket(1, "pay", -60)], "priority_first",
                               arrivals=arrivals)
    assert result.call_at == {1: 6 * MIN}
    assert result.ahead == {1: 1}


def test_a_ticket_transferred_to_a_window_waits_for_that_window_only():
    plans = [plan(window(1, "pay"), pay=4), plan(window(2, "pay"), free_at=30 * MIN, pay=4)]
    waiting = [ticket(1, "pay", -100, target_window=2), ticket(2, "pay", -5)]
    result = estimate.forecast(0, plans, waiting, "priority_first")
    assert result.call_at == {1: 30 * MIN, 2: 0}


def test_a_service_no_open_window_takes_gets_no_figure():
    plans = [plan(window(1, "pay"), pay=4)]
    result = estimate.forecast(0, plans, [ticket(1, "account", -5)], "priority_first")
    assert result.wait_minutes(1) is None and result.ahead == {}


def test_learned_times_pull_from_the_seed_while_samples_are_few():
    samples = [estimate.Sample(1, "pay", 600), estimate.Sample(2, "pay", 120)]
    per_service = estimate.service_seconds({"pay": 240}, samples)
    assert per_service == {"pay": (3 * 240 + 600 + 120) / 5}  # 288 s
    speeds = estimate.window_speeds(per_service, samples)
    assert speeds[1] == (5 + 600 / 288) / 6 and speeds[2] == (5 + 120 / 288) / 6


def test_the_ticket_says_when_a_window_will_take_its_service(hall: Hall, clock):
    kiosk = Actor(role="kiosk", device_id="kiosk-1", key="k")
    boss = Actor(role="supervisor", staff_id="9001", key="b")
    hall.window_command(boss, 3, "open")  # account, transfer, usage: no pay
    hall.window_command(boss, 1, "open")
    hall.window_command(boss, 1, "away", {"reason": "暂离"})  # expected back in 10 min
    clock.advance(minutes=2)
    t = hall.issue(kiosk, "pay")["ticket"]
    assert (t["ahead"], t["estimated_wait_min"]) == (0, 8)
    assert t["serving_from"] == "2026-11-23T09:40:00+08:00"
    assert t["estimate_note"] == "暂无窗口办理，预计 09:40 起 · No window now; from about 09:40"
    pay = hall.state()["services"][0]
    assert pay["estimated_wait_min"] == 12 and pay["serving_from"] == t["serving_from"]
    hall.window_command(boss, 1, "back")
    t = hall.ticket_status(t["public_id"])["ticket"]
    assert (t["estimated_wait_min"], t["serving_from"], t["estimate_note"]) == (0, None, None)


def test_the_supervisor_is_told_which_window_to_open_and_what_it_would_do(hall: Hall):
    kiosk = Actor(role="kiosk", device_id="kiosk-1", key="k")
    boss = Actor(role="supervisor", staff_id="9001", key="b")
    hall.window_command(boss, 1, "open")  # pay and enquiry, 4 minutes a pay customer
    for _ in range(10):
        hall.issue(kiosk, "pay")
    hall.issue(kiosk, "account")  # no open window takes it
    services = {s["id"]: s for s in hall.state()["services"]}
    # a new pay ticket: 10 ahead at one window, 40 minutes (target 20); window 2 (pay first)
    # would halve it: the ten go two by two, the new one at 20
    assert services["pay"]["estimated_wait_min"] == 40
    assert services["pay"]["suggestion"] == {
        "window": 2, "from_min": 40, "to_min": 20,
        "text": "开启 2 号窗口办理缴费：预计等候 40 → 20 分钟 · "
                "Open window 2 for Payment: wait 40 → 20 min"}
    assert services["account"]["suggestion"]["window"] == 3  # the first that takes it
    assert services["account"]["suggestion"]["from_min"] is None
    # a new enquiry waits behind the ten older pay tickets at window 1; window 5 takes
    # enquiries and no pay
    enquiry = services["enquiry"]["suggestion"]
    assert (enquiry["window"], enquiry["from_min"], enquiry["to_min"]) == (5, 44, 0)
    assert services["complaint"]["suggestion"] is None  # no window, but nobody waits either


def test_the_supervisor_sees_the_next_hour_with_arrivals_at_the_last_hours_rate(hall: Hall):
    kiosk = Actor(role="kiosk", device_id="kiosk-1", key="k")
    boss = Actor(role="supervisor", staff_id="9001", key="b")
    hall.window_command(boss, 1, "open")  # pay and enquiry, 4 minutes each
    for _ in range(6):
        hall.issue(kiosk, "pay")  # 6 in the last hour (read over half an hour at least): 12 an
        # hour, one every 5 minutes from 2.5. Window 1 calls the six at 0 … 20, those come
        # at 2.5 … 22.5 at 24 … 40, the one of 27.5 at 44, the pay ticket taken at 30 at 48,
        # the enquiry one taken with it at 52 (5 minutes, its avg_minutes), those of
        # 32.5 … 57.5 at 57 … 77, the pay ticket taken at 60 at 81.
    pay = {s["id"]: s for s in hall.state()["services"]}["pay"]
    assert pay["outlook"] == [{"in_min": 30, "wait_min": 18}, {"in_min": 60, "wait_min": 21}]


def test_a_ticket_of_a_service_gone_from_the_config_still_gets_an_answer(hall: Hall, clock):
    kiosk = Actor(role="kiosk", device_id="kiosk-1", key="k")
    boss = Actor(role="supervisor", staff_id="9001", key="b")
    hall.window_command(boss, 1, "open")
    hall.window_command(boss, 2, "open")
    hall.issue(kiosk, "pay")
    hall.issue(kiosk, "pay")
    hall.window_command(boss, 1, "call-next")  # A001
    hall.window_command(boss, 2, "call-next")  # A002, still at window 2
    sent = hall.window_command(boss, 1, "transfer", {"window": 2})["ticket"]  # A001 waits for 2
    raw = demo_toml()  # the hall drops payments overnight... and restarts at noon
    raw["services"] = [s for s in raw["services"] if s["id"] != "pay"]
    for w in raw["windows"]:
        w["services"] = [s for s in w["services"] if s != "pay"] or ["enquiry"]
    later = Hall(parse_config(raw), hall.store, clock=clock)
    with later.view() as view:
        ticket = view.ticket(view.ticket_row(sent["id"]))
    assert ticket["status"] == "waiting" and ticket["estimated_wait_min"] is not None


def test_a_windows_time_leaves_out_the_wait_for_its_next_customer_to_come(hall: Hall, clock):
    # Window 3 calls A1 at 0, which is done at 3. A2 is taken at 4 and called at 4.5: the
    # window's time for A1 is 4.5 less the minute it waited for A2 to come, 3.5 minutes.
    kiosk = Actor(role="kiosk", device_id="kiosk-1", key="k")
    boss = Actor(role="supervisor", staff_id="9001", key="b")
    hall.window_command(boss, 3, "open")
    hall.issue(kiosk, "account")
    hall.window_command(boss, 3, "call-next")
    clock.advance(minutes=3)
    hall.window_command(boss, 3, "finish")
    clock.advance(minutes=1)
    hall.issue(kiosk, "account")
    clock.advance(minutes=0.5)
    hall.window_command(boss, 3, "call-next")
    with hall.view() as v:
        samples = forecast.samples_today(v.db, hall.config, v.day)
    assert [(s.window, s.service, s.seconds) for s in samples] == [(3, "account", 3.5 * MIN)]


def test_ahead_is_a_figure_while_few_are_ahead_and_a_range_beyond():
    # spread = round(0.8 * sqrt(ahead)): 0 for 0, 1 for 1-3 (a figure), 2 from 4, 4 at 30.
    assert [estimate.ahead_range(n) for n in (0, 1, 3)] == [(0, 0), (1, 1), (3, 3)]
    assert estimate.ahead_range(4) == (2, 6)
    assert estimate.ahead_range(30) == (26, 34)


def test_the_ticket_shows_ahead_as_the_model_gives_it(hall: Hall):
    kiosk = Actor(role="kiosk", device_id="kiosk-1", key="k")
    boss = Actor(role="supervisor", staff_id="9001", key="b")
    hall.window_command(boss, 1, "open")
    for _ in range(4):
        hall.issue(kiosk, "pay")
    t = hall.issue(kiosk, "pay")["ticket"]
    assert (t["ahead"], t["ahead_low"], t["ahead_high"]) == (4, 2, 6)


def test_an_away_clerk_is_expected_back_as_the_halls_own_absences_went():
    # Past 暂离 of 4, 6 and 8 minutes; the configured 10 is only the prior.
    lengths, prior = [4 * MIN, 6 * MIN, 8 * MIN], 10 * MIN
    assert estimate.away_left(lengths, prior, 0) == 6 * MIN  # their mean
    # 5 minutes gone: the 4 is over; the 6 and the 8 had 1 and 3 left.
    assert estimate.away_left(lengths, prior, 5 * MIN) == 2 * MIN
    assert estimate.away_left(lengths, prior, 9 * MIN) == estimate.SOON_BACK_S  # past them all
    # One absence seen is too few: the prior, less the time gone.
    assert estimate.away_left([4 * MIN], prior, 2 * MIN) == 8 * MIN
    assert estimate.away_left([], prior, 9.5 * MIN) == estimate.SOON_BACK_S


def test_the_ticket_expects_the_clerk_back_after_the_halls_past_breaks(hall: Hall, clock):
    # Last Friday window 1's clerk took 暂离 of 4 and 6 minutes. Today, 2 minutes into one,
    # both had more to go (2 and 4 minutes): expected back in 3, not the rule's 10 - 2 = 8.
    boss = Actor(role="supervisor", staff_id="9001", key="b")
    kiosk = Actor(role="kiosk", device_id="kiosk-1", key="k")
    clock.set("2026-11-20 10:00")
    hall.window_command(boss, 1, "open")
    for minutes in (4, 6):
        hall.window_command(boss, 1, "away", {"reason": "暂离"})
        clock.advance(minutes=minutes)
        hall.window_command(boss, 1, "back")
    hall.window_command(boss, 1, "close")
    clock.set("2026-11-23 09:30")
    hall.window_command(boss, 1, "open")
    hall.window_command(boss, 1, "away", {"reason": "暂离"})
    clock.advance(minutes=2)
    t = hall.issue(kiosk, "pay")["ticket"]
    assert (t["ahead"], t["estimated_wait_min"]) == (0, 3)
    assert t["serving_from"] == "2026-11-23T09:35:00+08:00"


def test_short_breaks_still_to_come_are_read_from_the_past_days(hall: Hall, clock):
    # Last Friday window 1 made 5 calls; its clerk took a 3-minute 暂离 with nobody waiting
    # (it cost no one anything) and a 6-minute one while a customer waited. This morning,
    # before any break or call, the model already expects breaks to take 6 minutes in every
    # 6 + 5 calls' time (a call worth the services' mean avg_minutes, no sample yet today).
    boss = Actor(role="supervisor", staff_id="9001", key="b")
    kiosk = Actor(role="kiosk", device_id="kiosk-1", key="k")
    clock.set("2026-11-20 10:00")
    hall.window_command(boss, 1, "open")
    for _ in range(4):
        hall.issue(kiosk, "pay")
        hall.window_command(boss, 1, "call-next")
        clock.advance(minutes=5)
        hall.window_command(boss, 1, "finish")
    for minutes in (3, 6):
        if minutes == 6:
            hall.issue(kiosk, "pay")
        hall.window_command(boss, 1, "away", {"reason": "暂离"})
        clock.advance(minutes=minutes)
        hall.window_command(boss, 1, "back")
    hall.window_command(boss, 1, "call-next")
    hall.window_command(boss, 1, "finish")
    hall.window_command(boss, 1, "close")
    clock.set("2026-11-23 09:30")
    seeds = [s.avg_minutes * MIN for s in hall.config.services]
    per_call = sum(seeds) / len(seeds)
    with hall.view() as v:
        assert forecast.past_short_away(v.db, hall.config, v.day) == (6 * MIN, 5)
        share = forecast.short_away_share(v.db, hall.config, v.day, clock(), [])
    assert share == 6 * MIN / (6 * MIN + 5 * per_call)

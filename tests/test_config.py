"""The hall config: every mistake is named by its key, and nothing starts half-configured."""

import subprocess
import sys

import pytest
from support import ROOT, demo_toml

from hall.auth import verify_pin
from hall.config import ConfigError, load_config, parse_config


def test_the_demo_hall_has_the_services_of_the_hall_rules():
    config = load_config()
    names = {s.name["zh"] for s in config.services}
    assert names == {"缴费", "新装开户", "过户", "用水性质变更", "咨询", "投诉", "报修"}
    assert all(s.name["en"] for s in config.services)
    assert len(config.windows) == 6
    assert any("priority" in w.flags for w in config.windows)
    assert {d.role for d in config.devices} == {"kiosk", "display", "evaluator", "counter"}


def broken(change) -> str:
    raw = demo_toml()
    change(raw)
    with pytest.raises(ConfigError) as error:
        parse_config(raw)
    return str(error.value)


@pytest.mark.parametrize("change, names", [
    (lambda r: r["services"][2].update(prefix="a"), "services[2].prefix"),
    (lambda r: r["services"][1].update(prefix="A"), "services[1].prefix: 'A' is used twice"),
    (lambda r: r["windows"][0].update(services=["pay", "tea"]), "unknown service 'tea'"),
    (lambda r: r["windows"][0].update(number=True), "windows[0].number"),
    (lambda r: r["hours"].update(open="9h"), "hours.open"),
    (lambda r: r["hours"].update(open="18:00", close="17:00"), "hours.close: must be after"),
    (lambda r: r["hours"].update(breaks=[["12:00"]]), "hours.breaks[0]"),
    (lambda r: r["hours"].update(days=["monday"]), "hours.days"),
    (lambda r: r["rules"].update(away_limit_minutes="ten"), "rules.away_limit_minutes"),
    (lambda r: r["rules"].update(max_recalls=-1), "rules.max_recalls"),
    (lambda r: r["rules"].update(supervisor_session_hours=0), "rules.supervisor_session_hours"),
    (lambda r: r["staff"][0].update(pin_hash="1234"), "staff[0].pin_hash"),
    (lambda r: r["staff"][0].update(role="boss"), "staff[0].role"),
    (lambda r: r["devices"][2].pop("window"), "devices[2].window"),
    (lambda r: r["devices"][2].update(window=42), "there is no window 42"),
    (lambda r: r["hall"].update(timezone="Mars/Olympus"), "hall.timezone"),
    (lambda r: r["services"][0]["name"].pop("en"), "services[0].name.en"),
    (lambda r: r.pop("hours"), "[hours]"),
])
def test_a_config_error_names_the_key(change, names):
    assert names in broken(change)


def test_the_server_refuses_a_broken_config_and_exits_non_zero(tmp_path):
    bad = tmp_path / "hall.toml"
    bad.write_text('[hall]\nname = "x"\n[hours]\nopen = "9"\n', encoding="utf-8")
    run = subprocess.run([sys.executable, "server.py", "--config", str(bad), "--db",
                          str(tmp_path / "h.db")], cwd=ROOT, capture_output=True, text=True,
                         timeout=30)
    assert run.returncode == 2
    assert "config error" in run.stderr
    assert not (tmp_path / "h.db").exists()


def test_hash_pin_prints_a_hash_that_verifies():
    run = subprocess.run([sys.executable, "server.py", "hash-pin", "4321"], cwd=ROOT,
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 0
    pin_hash = run.stdout.strip()
    assert pin_hash.startswith("scrypt$")
    assert verify_pin("4321", pin_hash)
    assert not verify_pin("4322", pin_hash)


def test_hash_pin_refuses_what_is_not_a_pin():
    run = subprocess.run([sys.executable, "server.py", "hash-pin", "12a"], cwd=ROOT,
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 2


@pytest.mark.parametrize("key", ["notice", "ticket_footer"])
@pytest.mark.parametrize("how", ["left out", "empty", "blank"])
def test_the_notice_and_the_ticket_footer_are_optional(key, how):
    raw = demo_toml()
    raw["hall"].pop(key, None)
    if how != "left out":
        raw["hall"][key] = "" if how == "empty" else "   "
    assert getattr(parse_config(raw), key) == ""

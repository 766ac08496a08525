"""The hall config: every mistake is named by its key, and nothing starts half-configured."""

import re
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
    assert {d.role for d in config.devices} == {"kiosk", "display", "evaluator", "counter",
                                                "booking"}


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
    (lambda r: r["hall"].update(number_digits=5), "hall.number_digits: must be between 3 and 4"),
    (lambda r: r["services"][0].update(daily_cap=1000), "services[0].daily_cap: must be between"),
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


@pytest.mark.parametrize("change, says", [
    (lambda r: r["rules"].update(max_recall=5),
     "rules.max_recall: unknown key (did you mean max_recalls?)"),
    (lambda r: r["rules"].update(away_limit_minute=5),
     "rules.away_limit_minute: unknown key (did you mean away_limit_minutes?)"),
    (lambda r: r["services"][3].update(avg_minute=5),
     "services[3].avg_minute: unknown key (did you mean avg_minutes?)"),
    (lambda r: r["hall"].update(public_ulr="http://10.0.0.2:8080"),
     "hall.public_ulr: unknown key (did you mean public_url?)"),
    (lambda r: r["windows"][1].update(colour="red"), "windows[1].colour: unknown key"),
    (lambda r: r["services"][0]["name"].update(fr="Paiement"), "services[0].name.fr: unknown key"),
    (lambda r: r.update(hours_typo={"open": "09:00"}),
     "hours_typo: unknown table (did you mean [hours]?)"),
    (lambda r: r.update(service=r.pop("services")),
     "service: unknown table (did you mean [[services]]?)"),
    (lambda r: r.update(timezone="Asia/Shanghai"), "timezone: unknown key"),
])
def test_an_unknown_key_is_refused_with_its_path_and_a_suggestion(change, says):
    assert broken(change) == says


def test_a_table_of_nothing_but_typos_is_refused_too():
    assert "rules.maxrecalls: unknown key" in broken(lambda r: r.update(rules={"maxrecalls": 3}))


@pytest.mark.parametrize("url", ["192.168.1.10:8080", "ftp://hall/", "http://", "http:/x",
                                 "http://hall:port/"])
def test_public_url_must_be_an_address_a_phone_can_open(url):
    assert "hall.public_url" in broken(lambda r: r["hall"].update(public_url=url))


def test_a_good_public_url_loads_without_its_trailing_slash():
    raw = demo_toml()
    raw["hall"]["public_url"] = "https://hall.example.cn:8443/"
    assert parse_config(raw).public_url == "https://hall.example.cn:8443"


@pytest.mark.parametrize("pin_hash, says", [
    ("scrypt$...", "not a pin_hash"),
    ("bcrypt$12$abc", "not a pin_hash"),
    ("scrypt$16384$8$1$c2FsdA==$", "wrong length"),
    ("scrypt$1000$8$1$c2FsdHNhbHRzYWx0$" + "A" * 88, "out of range"),
    ("scrypt$１６３８４$8$1$c2FsdHNhbHRzYWx0$" + "A" * 88, "out of range"),
    ("scrypt$1048576$8$1$c2FsdHNhbHRzYWx0$" + "A" * 88, "more memory"),
    ("scrypt$16384$8$1$not base64!$" + "A" * 88, "not base64"),
])
def test_a_placeholder_or_damaged_pin_hash_is_refused_at_start(pin_hash, says):
    said = broken(lambda r: r["staff"][0].update(pin_hash=pin_hash))
    assert said.startswith("staff[0].pin_hash: ") and says in said


def test_hash_pins_own_hashes_pass_the_check():
    from hall.auth import hash_pin, pin_hash_problem
    assert pin_hash_problem(hash_pin("1234")) is None


def test_a_short_device_token_is_refused():
    said = broken(lambda r: r["devices"][0].update(token="kiosk-123456"))
    assert said.startswith("devices[0].token: at least 16 characters")


def toml_blocks() -> list[tuple[str, str]]:
    """Every ```toml block of the README and docs/, named by file and line."""
    blocks = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if line.strip() == "```toml":
                end = lines.index("```", i + 1)
                blocks.append((f"{path.name}:{i + 1}", "\n".join(lines[i + 1:end])))
    return blocks


@pytest.mark.parametrize("where, text", toml_blocks(), ids=[w for w, _ in toml_blocks()])
def test_every_toml_example_in_the_docs_loads_as_shown(where, text):
    import tomllib
    raw = tomllib.loads(text)
    if "hall" in raw:
        parse_config(raw, source=where)
    elif "dsn" in raw.get("region", {}):  # the region server's own config (docs/region.md)
        from region.config import parse_config as parse_region_config

        parse_region_config(raw, source=where)
    elif set(raw) == {"region"}:  # a hall's [region] table, shown alone
        parse_config({**tomllib.loads(MINIMAL_HALL), **raw}, source=where)
    else:  # a voice pack's manifest: its own format, checked by its own loader's rules
        assert raw.get("format") == 1 and raw.get("languages"), where


def test_the_example_configs_load():
    for path in sorted((ROOT / "examples").glob("*.toml")):
        load_config(path)


MINIMAL_HALL = """
[hall]
name = "最小的营业厅"

[hours]
open = "00:00"
close = "24:00"

[[services]]
id = "pay"
prefix = "A"
name = { zh = "缴费", en = "Payment" }

[[windows]]
number = 1
services = ["pay"]
"""


def test_a_config_of_only_the_required_keys_starts_the_server(tmp_path):
    from support import ServerProcess

    config = tmp_path / "hall.toml"
    config.write_text(MINIMAL_HALL, encoding="utf-8")
    server = ServerProcess(tmp_path / "hall.db", config=config).start()
    try:
        state = server.get("/api/v1/state").json()
        assert state["hall"]["name"] == "最小的营业厅"
        assert [s["id"] for s in state["services"]] == ["pay"]
    finally:
        server.stop()


def test_a_window_may_have_its_own_breaks_a_staggered_lunch():
    raw = demo_toml()
    raw["windows"][0]["breaks"] = [["11:30", "12:30"]]
    assert parse_config(raw).window(1).breaks == ((11 * 60 + 30, 12 * 60 + 30),)
    raw["windows"][0]["breaks"] = [["12:30", "11:30"]]
    with pytest.raises(ConfigError, match=r"windows\[0\].breaks\[0\]"):
        parse_config(raw)


def test_help_lists_every_command_and_explains_every_option():
    run = subprocess.run([sys.executable, "server.py", "--help"], cwd=ROOT, capture_output=True,
                         text=True, timeout=30)
    assert run.returncode == 0
    for name in ("hash-pin", "backup", "restore", "report"):
        assert f"server.py {name}" in run.stdout
    options = [line for line in run.stdout.splitlines() if line.lstrip().startswith("--")]
    explained = run.stdout.replace("\n                        ", " ")
    for line in options:  # an option's help follows it on its line or the next
        option = line.split()[0]
        assert re.search(rf"{re.escape(option)}( [A-Z_]+)?\s+\S", explained), option


def test_without_its_packages_the_server_says_in_one_line_what_to_run(tmp_path):
    """A Python without Flask and gunicorn (`python3 server.py` before `./dev.sh run`): the
    same server.py with the site-packages left out."""
    run = subprocess.run([sys.executable, "-S", "-s", "server.py", "--db", str(tmp_path / "h.db"),
                          "--port", "1"], cwd=ROOT, capture_output=True, text=True, timeout=30,
                         env={"PATH": "/usr/bin:/bin"})
    assert run.returncode == 1
    assert run.stderr.count("\n") == 1 and "./dev.sh run" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr


def test_hash_pin_refuses_digits_that_are_not_ascii():
    run = subprocess.run([sys.executable, "server.py", "hash-pin", "１２３４"], cwd=ROOT,
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 2


def test_away_reasons_have_english_names():
    """The built-in four have an English name; `name_en` gives a hall's own reason one; any
    other text (a clerk's own words) is shown as stored."""
    raw = demo_toml()
    raw["away_reasons"] = [{"name": "培训", "name_en": "Training"}, {"name": "会议"}]
    config = parse_config(raw)
    assert config.away_reason_en("午休") == "Lunch"
    assert config.away_reason_en("会议") == "Meeting"  # kept when the hall changes its limits
    assert config.away_reason_en("培训") == "Training"
    assert config.away_reason_en("去取资料") == "去取资料"

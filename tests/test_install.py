"""systemd/install.sh off a Pi: `--prefix DIR --no-systemctl` installs each role into a folder,
a second run changes nothing, the rendered units pass `systemd-analyze verify`, `--uninstall`
keeps the data, and the installed server runs with the example hall config."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from support import ROOT, free_port, wait_until

INSTALL = ROOT / "systemd" / "install.sh"
ROLES = ("server", "kiosk", "display", "counter-box", "evaluator", "region")
UNIT_FILES = {"server": "hallq-server.service", "kiosk": "hallq-kiosk.service",
              "display": "hallq-display.service",
              "counter-box": "hallq-counter-box@.service",
              "evaluator": "hallq-evaluator@.service",
              "region": "hallq-region.service"}


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A still copy of the program to install from (the work tree may change meanwhile)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("server.py", "requirements.txt", "requirements.lock", "pyproject.toml"):
        shutil.copy2(ROOT / name, src / name)
    for name in ("hall", "web", "client", "kiosk", "display", "counter_terminal", "hardware",
                 "region", "examples", "docs", "systemd"):
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return src / "systemd" / "install.sh"


def install(prefix: Path, *args: str, script: Path = INSTALL) -> str:
    done = subprocess.run(["bash", str(script), *args, "--prefix", str(prefix),
                           "--no-systemctl"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def tree(root: Path) -> dict[str, str]:
    """Every path under root with its kind, mode and content checksum (or link target)."""
    listing = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        mode = oct(path.lstat().st_mode)
        if path.is_symlink():
            listing[rel] = f"link {os.readlink(path)}"
        elif path.is_dir():
            listing[rel] = f"dir {mode}"
        else:
            listing[rel] = f"file {mode} {hashlib.sha256(path.read_bytes()).hexdigest()}"
    return listing


def verify(unit: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is missing: Debian's package `systemd` has it")
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and done.stdout + done.stderr == "", done.stdout + done.stderr


@pytest.mark.parametrize("role", ROLES)
def test_install_twice_changes_nothing_and_the_unit_verifies(role, tmp_path, source):
    prefix = tmp_path / "root"
    args = (role, "--window", "3", "--token", f"token-of-{role}-3")
    first = install(prefix, *args, script=source)
    assert "would run: systemctl enable" in first
    after_first = tree(prefix)
    second = install(prefix, *args, script=source)
    assert tree(prefix) == after_first
    assert "nothing to change" in second and "wrote" not in second

    unit = prefix / "etc/systemd/system" / UNIT_FILES[role]
    text = unit.read_text()
    assert "Restart=always" in text
    assert f"ExecStart={prefix}/opt/hallq/venv/bin/hallq-" in text  # the package's script
    assert "PYTHONPATH" not in text
    for path in ("/opt/hallq", "/etc/hallq", "/var/lib/hallq"):  # every path moved
        assert text.count(path) == text.count(f"{prefix}{path}")
    # Without pip (--no-systemctl makes no changes to the system) the package's scripts are not
    # installed; systemd-analyze verify wants the program the unit runs to be there.
    program = Path(text.split("ExecStart=")[1].split()[0])
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    verify(unit)
    if "@" in unit.name:  # and an instance of the template, as systemctl enable makes it
        instance = tmp_path / unit.name.replace("@", "@3")
        instance.write_text(text)
        verify(instance)
    env = (prefix / "etc/hallq" / (f"{role}-3.env" if "@" in unit.name else f"{role}.env"))
    if role not in ("server", "region"):
        assert f"HALLQ_TOKEN=token-of-{role}-3" in env.read_text()
    assert oct(env.stat().st_mode)[-3:] == "640"  # tokens are not for everyone's eyes
    assert (prefix / "etc/udev/rules.d/60-hallq-printer.rules").exists() == (role == "kiosk")


def test_units_ask_for_what_each_role_needs():
    units = {role: (ROOT / "systemd" / name).read_text() for role, name in UNIT_FILES.items()}
    server = units["server"]
    assert "Type=notify" in server and "WatchdogSec=" in server
    assert "ProtectSystem=strict" in server and "ReadWritePaths=/var/lib/hallq" in server
    for role in ("kiosk", "display"):
        assert "SDL_VIDEODRIVER=kmsdrm" in units[role] and "--fullscreen" in units[role]
        assert "Conflicts=getty@tty1.service" in units[role]
    assert "lp" in units["kiosk"].split("SupplementaryGroups=")[1].split("\n")[0].split()
    assert "audio" in units["display"].split("SupplementaryGroups=")[1].split("\n")[0].split()
    for role in ("counter-box", "evaluator"):
        assert "SupplementaryGroups=gpio" in units[role]
        assert "GPIOZERO_PIN_FACTORY=lgpio" in units[role]
    region = units["region"]
    assert "ProtectSystem=strict" in region and "ReadWritePaths" not in region  # writes nothing
    assert "After=network-online.target time-sync.target postgresql.service" in region
    for role, text in units.items():
        assert "StandardOutput=journal" in text and "Restart=always" in text
        # hardware stays reachable where a device is served
        assert "PrivateDevices=yes" not in text or role in ("server", "region")


# systemd-analyze security's exposure (0 = fully sandboxed, 10 = not at all): the server needs
# no device at all; the others keep only the devices their role uses.
EXPOSURE_AT_MOST = {"server": 2.5, "kiosk": 2.0, "display": 2.0, "counter-box": 2.0,
                    "evaluator": 2.0, "region": 2.5}


@pytest.mark.parametrize("role", ROLES)
def test_each_unit_is_sandboxed_as_far_as_its_devices_allow(role, tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is missing: Debian's package `systemd` has it")
    unit = tmp_path / UNIT_FILES[role].replace("@", "@3")
    unit.write_text((ROOT / "systemd" / UNIT_FILES[role]).read_text())
    done = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(unit)],
                          capture_output=True, text=True, timeout=60)
    exposure = float(done.stdout.split("Overall exposure level for")[1].split(":")[1].split()[0])
    assert exposure <= EXPOSURE_AT_MOST[role], done.stdout
    unit_text = unit.read_text()
    assert "RestartPreventExitStatus=2" in unit_text  # a config error is not restarted forever
    assert "MemoryMax=" in unit_text and "SystemCallFilter=@system-service" in unit_text


def test_the_region_role_writes_a_config_that_loads_migrates_and_says_what_next(tmp_path,
                                                                               source):
    from region.config import load_config

    prefix = tmp_path / "root"
    out = install(prefix, "region", script=source)
    config = load_config(prefix / "etc/hallq/region.toml")
    assert (config.host, config.port) == ("127.0.0.1", 8090)
    assert "/run/postgresql" in config.dsn and config.silent_minutes == 10
    assert oct((prefix / "etc/hallq/region.toml").stat().st_mode)[-3:] == "640"
    assert "hallq-region migrate --config" in out  # the schema before the unit starts
    assert out.index("hallq-region migrate") < out.index("systemctl enable hallq-region")
    assert "add-user YOUR-ID --admin" in out and "add-hall" in out
    assert (prefix / "opt/hallq/app/region/migrations").is_dir()
    unit = (prefix / "etc/systemd/system/hallq-region.service").read_text()
    assert f"--config {prefix}/etc/hallq/region.toml" in unit
    # The hall's own roles install as before: no region config for them.
    install(tmp_path / "other", "server", script=source)
    assert not (tmp_path / "other/etc/hallq/region.toml").exists()


def test_uninstall_removes_the_program_but_keeps_config_and_data(tmp_path, source):
    prefix = tmp_path / "root"
    install(prefix, "kiosk", "--token", "kiosk-token-1", script=source)
    install(prefix, "counter-box", "--window", "2", script=source)
    data = prefix / "var/lib/hallq"
    (data / "hall.db").write_bytes(b"precious")
    units = prefix / "etc/systemd/system"

    out = install(prefix, "kiosk", "--uninstall", script=source)
    assert "would run: systemctl disable --now hallq-kiosk.service" in out
    assert not (units / "hallq-kiosk.service").exists()
    assert not (prefix / "etc/udev/rules.d/60-hallq-printer.rules").exists()
    assert (prefix / "opt/hallq/app/server.py").exists()  # the counter box still needs it

    install(prefix, "counter-box", "--uninstall", script=source)
    assert not (units / "hallq-counter-box@.service").exists()
    assert not (prefix / "opt/hallq").exists()
    assert (data / "hall.db").read_bytes() == b"precious"
    assert "HALLQ_TOKEN=kiosk-token-1" in (prefix / "etc/hallq/kiosk.env").read_text()


def test_a_new_version_replaces_changed_files_and_removes_stale_ones(tmp_path, source):
    src = tmp_path / "src"
    shutil.copytree(source.parent.parent, src)
    prefix = tmp_path / "root"
    script = src / "systemd" / "install.sh"
    (src / "hall" / "old_module.py").write_text("OLD = 1\n")
    install(prefix, "server", script=script)
    app = prefix / "opt/hallq/app"
    assert (app / "hall/old_module.py").exists()
    (prefix / "etc/hallq/hall.toml").write_text("# the hall's own edits\n")

    (src / "hall" / "old_module.py").unlink()
    (src / "server.py").write_text((src / "server.py").read_text() + "# v2\n")
    out = install(prefix, "server", script=script)
    assert not (app / "hall/old_module.py").exists()
    assert (app / "server.py").read_text().endswith("# v2\n")
    assert "would run: systemctl restart hallq-server.service" in out
    assert (prefix / "etc/hallq/hall.toml").read_text() == "# the hall's own edits\n"


def test_the_installed_server_runs_with_the_example_config(tmp_path, source):
    prefix = tmp_path / "root"
    install(prefix, "server", script=source)
    port = free_port()
    db = prefix / "var/lib/hallq/hall.db"
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, str(prefix / "opt/hallq/app/server.py"),
         "--config", str(prefix / "etc/hallq/hall.toml"), "--db", str(db),
         "--backup-dir", str(prefix / "var/lib/hallq/backups"), "--port", str(port)],
        cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        body = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                body = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json()
                break
            except requests.RequestException:
                time.sleep(0.1)
        assert body is not None, (tmp_path / "server.log").read_text()
        assert body["ok"] and body["devices"]["total"] == 14
        assert Path(body["db"]["path"]) == db.resolve()
        # the first backup is made at start, beside the server coming up: it may follow /healthz
        assert wait_until(lambda: list((prefix / "var/lib/hallq/backups").glob("hall-*.db")),
                          timeout=20)
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


# BCM number -> physical pin of the 40-pin header
HEADER = {2: 3, 3: 5, 4: 7, 17: 11, 27: 13, 22: 15, 10: 19, 9: 21, 11: 23, 5: 29, 6: 31, 13: 33,
          19: 35, 26: 37, 14: 8, 15: 10, 18: 12, 23: 16, 24: 18, 25: 22, 8: 24, 7: 26, 12: 32,
          16: 36, 20: 38, 21: 40}


def test_the_wiring_tables_match_the_programs_and_the_header():
    import re

    from counter_terminal import box, evaluator
    from hardware.gpio import parse_pins

    doc = (ROOT / "docs" / "raspberry-pi.md").read_text()
    box_rows = re.findall(r"^\| (?:button|LED|buzzer)[^|]*\|[^|]*\| (\d+) \| (\d+) \|$", doc,
                          re.M)
    assert sorted(int(bcm) for bcm, _ in box_rows) == sorted(
        p for p in box.DEFAULT_PINS.values() if p is not None)
    eval_rows = re.findall(r"^\| [^|]*\(`b\d`, `led\d`\) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \|$",
                           doc, re.M)
    assert sorted(int(r[i]) for r in eval_rows for i in (0, 2)) == sorted(
        p for p in evaluator.DEFAULT_PINS.values() if p is not None)
    for bcm, pin in [*box_rows, *[(r[0], r[1]) for r in eval_rows],
                     *[(r[2], r[3]) for r in eval_rows]]:
        assert HEADER[int(bcm)] == int(pin), f"BCM {bcm} is pin {HEADER[int(bcm)]}, not {pin}"
    shared = re.search(r"--pins (b5=[\d=,a-z]+)", doc).group(1)
    evaluator_pins = parse_pins(shared, tuple(evaluator.DEFAULT_PINS))
    assert not set(evaluator_pins.values()) & set(box.DEFAULT_PINS.values())
    box_pins = parse_pins(re.search(r"--pins (call=[\d=,a-z]+)", doc).group(1),
                          tuple(box.DEFAULT_PINS))
    assert box_pins == box.DEFAULT_PINS


@pytest.mark.parametrize("role", ROLES)
def test_every_option_a_unit_passes_is_one_its_program_knows(role):
    import tomllib

    text = (ROOT / "systemd" / UNIT_FILES[role]).read_text()
    command = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    words = command.split()
    script = Path(words[0].removeprefix("ExecStart=")).name  # a console script of the package
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, function = scripts[script].split(":")
    options = [w for w in words if w.startswith("--")]
    # A program with commands (hallq-region serve): that command's help.
    command = [w for w in words[1:2] if not w.startswith(("-", "$"))]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", f"import sys; from {module} import {function};"
                           f" sys.argv[0] = {script!r}; sys.exit({function}"
                           f"({[*command, '--help']!r}))"],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    for option in options:
        assert option in done.stdout, f"{script} has no {option}"

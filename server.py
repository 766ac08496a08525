"""The central server: `python server.py --config hall.toml --db var/hall.db`.

Other uses: `python server.py hash-pin 1234` prints a pin_hash for the config.
"""

from __future__ import annotations

import argparse
import errno
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from hall import logs
from hall.auth import hash_pin
from hall.backup import DEFAULT_AT, DEFAULT_KEEP
from hall.config import ConfigError, HallConfig, load_config
from hall.hall import Hall
from hall.store import Store


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "hash-pin":
        return _hash_pin(argv[1:])
    if argv and argv[0] in ("backup", "restore"):  # consistent copies of the database
        from hall.backup import backup_main, restore_main
        return (backup_main if argv[0] == "backup" else restore_main)(argv[1:])
    if argv and argv[0] == "migrate":  # what the server does as it starts, by hand
        from hall.migrations import main as migrate_main
        return migrate_main(argv[1:])
    if argv and argv[0] == "report":  # python server.py report --from D --to D [--csv F]
        from hall.reports import cli
        return cli(argv[1:])
    return _serve(argv)


def _hash_pin(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="server.py hash-pin",
                                     description="Print a pin_hash for the hall config.")
    parser.add_argument("pin", help="the PIN (4 to 12 digits)")
    pin = parser.parse_args(argv).pin
    if not (pin.isascii() and pin.isdigit()) or not 4 <= len(pin) <= 12:
        print("hash-pin: a PIN is 4 to 12 digits", file=sys.stderr)
        return 2
    print(hash_pin(pin))
    return 0


# The other commands, `server.py NAME --help` for each: (name, what it does).
SUBCOMMAND_HELP = (
    ("hash-pin", "print a pin_hash for a PIN, for [[staff]] in the hall config"),
    ("backup", "copy the hall's database consistently, even while the server runs"),
    ("restore", "put a backup back as the hall's database (stop the server first)"),
    ("report", "the report figures of a range of days, as tables, JSON or CSV"),
    ("migrate", "bring the database up to this version (the server does it as it starts)"),
)


def _serve(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="server.py", description="HallQ central server: serves the hall (the demo hall "
        "without --config) until Ctrl+C or SIGTERM.",
        epilog="other commands:\n" + "\n".join(f"  server.py {name:<9} {text}"
                                                 for name, text in SUBCOMMAND_HELP),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="hall TOML (default: the bundled demo hall)")
    parser.add_argument("--db", default="var/hall.db", help="SQLite file (default var/hall.db)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (0.0.0.0 for the hall's LAN)")
    parser.add_argument("--port", type=int, default=8080, help="TCP port (default 8080)")
    parser.add_argument("--message-queue", help="redis://HOST:6379 to share events between "
                        "several server processes")
    add_serving_options(parser)
    add_backup_options(parser)
    args = parser.parse_args(argv)
    logs.setup()
    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(f"config error: {error}", file=sys.stderr)
        return 2
    if not _port_is_free(args.host, args.port):
        print(f"server.py: port {args.port} on {args.host} is in use (another HallQ server?); "
              "--port chooses another", file=sys.stderr)
        return 1

    here = Path(__file__).resolve().parent  # where `hall` is when not installed as a package
    if not migrate_in_a_process(
            [sys.executable, "-m", "hall.migrations", "--db", str(Path(args.db).resolve())],
            here, f"server.py: the database {args.db}"):
        return 1
    _leave_out_unused_libraries(args.message_queue)
    try:
        import web.http_server  # noqa: F401
    except ModuleNotFoundError as missing:  # started with a Python that lacks our packages
        print(f"server.py: the Python package {missing.name!r} is missing: start the server "
              "with ./dev.sh run (it installs what is needed), or with .venv/bin/python "
              "server.py once it has", file=sys.stderr)
        return 1

    systemd = _take_systemd_variables()  # for the worker: gunicorn's master says READY too soon

    def build() -> object:
        """The app, in the worker process: the Hall and every thread of ours start here."""
        from web.app import create_app, start_ticker
        from web.health import start_upkeep
        from web.http_server import limit_malloc_arenas

        limit_malloc_arenas()  # before the worker's threads
        hall = Hall(config, Store(args.db))
        app, socketio = create_app(hall, message_queue=args.message_queue)
        start_ticker(socketio, hall)
        start_upkeep(app, hall, args, systemd)  # nightly backups; systemd READY/WATCHDOG
        from web.shipper import start_shipping
        start_shipping(hall, app.extensions)  # the event log to the region, if [region]
        return app

    serve(build, args.host, args.port, args, lambda arbiter: _print_welcome(config, args))
    return 0


def migrate_in_a_process(command: list[str], cwd: Path, what: str, quiet: bool = False) -> bool:
    """Bring a database up to this version's schema by `command`, in a process of its own: the
    migration runner (sqlite-utils for a hall, ~14 MB once imported; yoyo for the region) never
    enters this process, nor the worker gunicorn forks from it. `what` names the database in
    the message when it fails."""
    done = subprocess.run(command, cwd=cwd, check=False,
                          stdout=subprocess.DEVNULL if quiet else None)
    if done.returncode != 0:
        print(f"{what} could not be brought up to date (above); nothing was served",
              file=sys.stderr)
    return done.returncode == 0


def serve(build: Callable[[], object], host: str, port: int, args: argparse.Namespace,
          when_ready: Callable[[object], None], proc_name: str | None = None) -> None:
    """gunicorn's gthread worker (one worker) with our limits, taken from the options of
    add_serving_options; `build` makes the app in the worker. Returns when it has stopped."""
    from web.http_server import HallServer, Limits, options

    settings = options(host, port, args.threads, args.max_connections, when_ready=when_ready)
    if proc_name:
        settings["proc_name"] = proc_name
    limits = Limits(read_seconds=args.read_timeout, per_address=args.max_per_address)
    HallServer(settings, build, limits).run()


def add_serving_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connections")
    group.add_argument("--threads", type=int, default=128,
                       help="request threads; each open WebSocket (a device, a page) holds "
                       "one (128)")
    group.add_argument("--max-connections", type=int, default=256,
                       help="open connections at most; more wait to be accepted (256)")
    group.add_argument("--read-timeout", type=float, default=10.0,
                       help="seconds to send a request's headers and body (10)")
    group.add_argument("--max-per-address", type=int, default=32,
                       help="open connections from one client address; 0 for no limit, "
                       "e.g. behind a reverse proxy (32)")


def _port_is_free(host: str, port: int, patience: float = 2.0) -> bool:
    """Whether the address can be bound; a server just killed may hold it a moment longer."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    deadline = time.monotonic() + patience
    while True:
        with socket.socket(family) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
                return True
            except OSError as error:
                if error.errno != errno.EADDRINUSE or time.monotonic() > deadline:
                    return error.errno != errno.EADDRINUSE
        time.sleep(0.1)


SYSTEMD_VARIABLES = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


def _take_systemd_variables() -> dict[str, str]:
    """systemd's notify variables, taken out of this process's environment: gunicorn's master
    would send READY=1 as soon as it has bound the port, before the worker can serve. The
    worker sends it once its own /healthz answers (NotifyAccess=all lets it)."""
    taken = {name: os.environ.pop(name) for name in SYSTEMD_VARIABLES if name in os.environ}
    taken.pop("WATCHDOG_PID", None)  # the master's pid; the worker pets for the whole service
    return taken


def add_backup_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("backups")
    group.add_argument("--backup-dir", help="where the nightly backups go "
                       "(default: backups/ beside the database)")
    group.add_argument("--backup-keep", type=int, default=DEFAULT_KEEP,
                       help=f"how many nightly backups to keep ({DEFAULT_KEEP})")
    group.add_argument("--backup-at", default=DEFAULT_AT,
                       help=f"hall time of the nightly backup, HH:MM ({DEFAULT_AT}); "
                       "'off' for none")


# Imported by python-socketio and engine.io whenever they are installed, all optional to them:
# the Socket.IO client's transports (the devices use them; the server never does) and Redis
# (only for --message-queue). Measured with 100 devices connected (bench/bench_server.py):
# leaving them out saves 12 MB PSS idle and 8-10 MB with the devices, of the 128 MB target.
CLIENT_ONLY_LIBRARIES = ("requests", "websocket")


def _leave_out_unused_libraries(message_queue: str | None) -> None:
    """Make the imports of libraries this process will not use fail, as if they were not
    installed (a None entry in sys.modules does that), before the web stack is imported."""
    unused = CLIENT_ONLY_LIBRARIES + (() if message_queue else ("redis",))
    for name in unused:
        sys.modules.setdefault(name, None)


def _print_welcome(config: HallConfig, args: argparse.Namespace) -> None:
    """Printed once the port is bound (gunicorn's when_ready), so a busy port prints only
    its error."""
    url = f"http://{'127.0.0.1' if args.host == '0.0.0.0' else args.host}:{args.port}"
    lines = [f"HallQ: {config.name} at {url}/  (database {Path(args.db).resolve()})"]
    if not args.config:
        lines.append("Demo hall. Staff (id / PIN): 1001/1234 … 1006/6789 clerks, "
                     "9001/9999 supervisor, 9000/0000 admin.")
        lines += [f"  device {d.id:<14} {d.role:<9} token {d.token}" for d in config.devices]
        kiosk = next((d.token for d in config.devices if d.role == "kiosk"), "TOKEN")
        display = next((d.token for d in config.devices if d.role == "display"), "TOKEN")
        lines += ["Start a kiosk and the lobby display (in other terminals):",
                  f"  .venv/bin/python -m kiosk --server {url} --token {kiosk} --printer dummy",
                  f"  .venv/bin/python -m display --server {url} --token {display}"]
    lines.append("Stop the server with Ctrl+C.")
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())

"""The central server: `python server.py --config hall.toml --db var/hall.db`.

Other uses: `python server.py hash-pin 1234` prints a pin_hash for the config.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from hall.auth import hash_pin
from hall.backup import DEFAULT_AT, DEFAULT_KEEP
from hall.config import ConfigError, HallConfig, load_config
from hall.hall import Hall
from hall.store import Store

SUBCOMMANDS = ("hash-pin", "backup", "restore", "report")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "hash-pin":
        return _hash_pin(argv[1:])
    if argv and argv[0] in ("backup", "restore"):  # consistent copies of the database
        from hall.backup import backup_main, restore_main
        return (backup_main if argv[0] == "backup" else restore_main)(argv[1:])
    if argv and argv[0] == "report":  # python server.py report --from D --to D [--csv F]
        from hall.reports import cli
        return cli(argv[1:])
    return _serve(argv)


def _hash_pin(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="server.py hash-pin",
                                     description="Print a pin_hash for the hall config.")
    parser.add_argument("pin", help="the PIN (4 to 12 digits)")
    pin = parser.parse_args(argv).pin
    if not pin.isdigit() or not 4 <= len(pin) <= 12:
        print("hash-pin: a PIN is 4 to 12 digits", file=sys.stderr)
        return 2
    print(hash_pin(pin))
    return 0


def _serve(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="server.py", description="HallQ central server")
    parser.add_argument("--config", help="hall TOML (default: the bundled demo hall)")
    parser.add_argument("--db", default="var/hall.db", help="SQLite file (default var/hall.db)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (0.0.0.0 for the hall's LAN)")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--message-queue", help="redis://HOST:6379 to share events between "
                        "several server processes")
    add_backup_options(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request in journald
    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(f"config error: {error}", file=sys.stderr)
        return 2

    _leave_out_unused_libraries(args.message_queue)
    from web.app import create_app, start_ticker  # the web stack only when serving
    from web.health import start_upkeep
    from web.serving import limit_malloc_arenas, serve

    limit_malloc_arenas()  # before the first thread
    hall = Hall(config, Store(args.db))
    app, socketio = create_app(hall, message_queue=args.message_queue)
    start_ticker(socketio, hall)
    start_upkeep(app, hall, args)  # nightly backups; systemd READY/WATCHDOG when under systemd
    _print_welcome(config, args)
    serve(app, args.host, args.port)
    return 0


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
# (only for --message-queue). Together 12 MB of the server's memory target of 80 MB.
CLIENT_ONLY_LIBRARIES = ("requests", "websocket")


def _leave_out_unused_libraries(message_queue: str | None) -> None:
    """Make the imports of libraries this process will not use fail, as if they were not
    installed (a None entry in sys.modules does that), before the web stack is imported."""
    unused = CLIENT_ONLY_LIBRARIES + (() if message_queue else ("redis",))
    for name in unused:
        sys.modules.setdefault(name, None)


def _print_welcome(config: HallConfig, args: argparse.Namespace) -> None:
    url = f"http://{'127.0.0.1' if args.host == '0.0.0.0' else args.host}:{args.port}"
    lines = [f"HallQ: {config.name} at {url}/  (database {Path(args.db).resolve()})"]
    if not args.config:
        lines.append("Demo hall. Staff (id / PIN): 1001/1234 … 1006/6789 clerks, "
                     "9001/9999 supervisor, 9000/0000 admin.")
        lines += [f"  device {d.id:<14} {d.role:<9} token {d.token}" for d in config.devices]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())

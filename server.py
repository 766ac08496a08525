"""The central server: `python server.py --config hall.toml --db var/hall.db`.

Other uses: `python server.py hash-pin 1234` prints a pin_hash for the config.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from hall.auth import hash_pin
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
    from web.health import add_server_options, start_upkeep
    add_server_options(parser)  # nightly backups
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request in journald
    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(f"config error: {error}", file=sys.stderr)
        return 2

    from web.app import create_app, start_ticker  # the web stack only when serving
    from web.serving import limit_malloc_arenas, serve

    limit_malloc_arenas()  # before the first thread
    hall = Hall(config, Store(args.db))
    app, socketio = create_app(hall, message_queue=args.message_queue)
    start_ticker(socketio, hall)
    start_upkeep(app, hall, args)  # nightly backups; systemd READY/WATCHDOG when under systemd
    _print_welcome(config, args)
    serve(app, args.host, args.port)
    return 0


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

"""`hallq-region`: the company's server, where every hall ships its event log.

    hallq-region serve [--config /etc/hallq/region.toml]   serve until Ctrl+C or SIGTERM
    hallq-region migrate                                    bring the schema up to date
    hallq-region add-hall ID NAME                           register a hall, print its token
    hallq-region hall-token ID                              a new token for a hall
    hallq-region accept-restore ID                          a restored hall ships again
    hallq-region add-user ID [--admin | --halls a,b] [--ask] a region user; prints a
                                                            generated password (or asks)
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path

from hall import logs
from region.config import DEFAULT_PATH, ConfigError, RegionConfig, load_config

HALL_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
ROOT = Path(__file__).resolve().parent.parent  # where `region` is when not installed


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help(sys.stderr)
        return 2
    logs.setup()
    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(f"config error: {error}", file=sys.stderr)
        return 2
    return args.run(config, args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hallq-region", description="HallQ's region server: every hall of the company, "
        "in PostgreSQL.")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    def command(name: str, run: Callable[[RegionConfig, argparse.Namespace], int],
                text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=text, description=text)
        sub.add_argument("--config", default=str(DEFAULT_PATH),
                         help=f"the region's TOML (default {DEFAULT_PATH})")
        sub.set_defaults(run=run)
        return sub

    serve = command("serve", _serve, "serve until Ctrl+C or SIGTERM (migrates first)")
    serve.add_argument("--message-queue", help="redis://HOST:6379 to share Socket.IO rooms "
                       "between several region processes")
    from server import add_serving_options

    add_serving_options(serve)
    command("migrate", _migrate, "bring the database's schema up to this version")
    add = command("add-hall", _add_hall, "register a hall; prints its token once")
    add.add_argument("hall_id", metavar="ID", help="lower-case letters, digits, - and _")
    add.add_argument("name", metavar="NAME", help="the hall's name, e.g. 城东营业厅")
    rotate = command("hall-token", _hall_token,
                     "a new token for a hall (the old one stops working); prints it once")
    rotate.add_argument("hall_id", metavar="ID")
    accept = command("accept-restore", _accept_restore,
                     "a hall whose database went back (restored from a backup) ships again: "
                     "the region keeps every event it has and takes the hall's events "
                     "numbered past them")
    accept.add_argument("hall_id", metavar="ID")
    user = command("add-user", _add_user, "add a region user: an admin (--admin) or a "
                   "supervisor of some halls (--halls); prints a generated password")
    user.add_argument("user_id", metavar="ID", help="letters, digits, '.', '_' or '-'")
    user.add_argument("--admin", action="store_true", help="a regional admin (every hall, "
                      "manages halls and users); otherwise a supervisor")
    user.add_argument("--name", help="the person's name (default: the id)")
    user.add_argument("--halls", default="", help="a supervisor's halls: ids, comma-separated")
    user.add_argument("--ask", action="store_true", help="ask for the password instead of "
                      "making one up")
    return parser


def _migrate(config: RegionConfig, args: argparse.Namespace) -> int:
    from region.db import migrate

    try:
        applied = migrate(config.dsn)
    except Exception as error:  # the database's own words are what the operator needs
        print(f"hallq-region migrate: {error}", file=sys.stderr)
        return 1
    print(f"applied: {', '.join(applied)}" if applied else "the schema is up to date")
    return 0


def _add_hall(config: RegionConfig, args: argparse.Namespace) -> int:
    import psycopg

    from region import db

    if not HALL_ID.fullmatch(args.hall_id):
        print("add-hall: a hall id is 1-32 lower-case letters, digits, - or _, starting with "
              "a letter or digit", file=sys.stderr)
        return 2
    if not args.name.strip():
        print("add-hall: give the hall a name", file=sys.stderr)
        return 2
    try:
        with db.connect(config.dsn) as conn:
            token = db.add_hall(conn, args.hall_id, args.name.strip())
    except psycopg.errors.UniqueViolation:
        print(f"add-hall: there is already a hall {args.hall_id!r}; `hallq-region hall-token "
              f"{args.hall_id}` gives it a new token", file=sys.stderr)
        return 1
    _print_token(args.hall_id, token)
    return 0


def _hall_token(config: RegionConfig, args: argparse.Namespace) -> int:
    from region import db

    with db.connect(config.dsn) as conn:
        token = db.rotate_token(conn, args.hall_id)
    if token is None:
        print(f"hall-token: there is no hall {args.hall_id!r}", file=sys.stderr)
        return 1
    _print_token(args.hall_id, token)
    return 0


def _accept_restore(config: RegionConfig, args: argparse.Namespace) -> int:
    from region import db
    from region.ingest import accept_restore

    with db.connect(config.dsn) as conn:
        done = accept_restore(conn, args.hall_id)
    if done is None:
        print(f"accept-restore: there is no hall {args.hall_id!r}", file=sys.stderr)
        return 1
    print(f"hall {args.hall_id}: the region keeps its events up to seq "
          f"{done['kept_through_seq']}; the hall's events numbered so are skipped, those "
          "after are taken.")
    return 0


def _add_user(config: RegionConfig, args: argparse.Namespace) -> int:
    from hall.errors import HallError
    from region import db, users

    if args.ask:
        import getpass

        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("add-user: the two passwords differ", file=sys.stderr)
            return 2
    else:
        password = users.new_password()
    halls = [h.strip() for h in args.halls.split(",") if h.strip()]
    try:
        with db.connect(config.dsn) as conn:
            users.add_user(conn, args.user_id, args.name or args.user_id,
                           "admin" if args.admin else "supervisor", password, halls)
    except HallError as error:
        print(f"add-user: {error.message}", file=sys.stderr)
        return 1
    if not args.ask:
        print(password)
        print(f"The password of {args.user_id!r}, shown this once: log in at the region's "
              "page and keep it safe (the region keeps only its scrypt hash).", file=sys.stderr)
    return 0


def _print_token(hall_id: str, token: str) -> None:
    """The token goes on stdout alone (a script can take it); how to use it, on stderr."""
    print(token)
    print(f"The token of hall {hall_id!r}, shown this once (the region keeps only its hash). "
          "Put it in the hall's config:\n"
          f'  [region]\n  url = "https://…"\n  hall_id = "{hall_id}"\n  token = "{token}"',
          file=sys.stderr)


def _serve(config: RegionConfig, args: argparse.Namespace) -> int:
    from server import _leave_out_unused_libraries, _port_is_free, migrate_in_a_process, serve

    if not _port_is_free(config.host, config.port):
        print(f"hallq-region: {config.host}:{config.port} is in use; [region] listen chooses "
              "another", file=sys.stderr)
        return 1
    if not migrate_in_a_process([sys.executable, "-m", "region.server", "migrate", "--config",
                                 str(Path(args.config).resolve())],
                                ROOT, "hallq-region: the database", quiet=True):
        return 1
    _leave_out_unused_libraries(args.message_queue)

    def build() -> object:
        """The app, in gunicorn's worker: the pool and every thread start here."""
        from region.app import create_app
        from web.http_server import limit_malloc_arenas

        limit_malloc_arenas()
        app, _ = create_app(config, message_queue=args.message_queue)
        return app

    def welcome(arbiter: object) -> None:
        print(f"hallq-region: {config.name} at http://{config.host}:{config.port}/ "
              "(Ctrl+C stops it)", flush=True)

    serve(build, config.host, config.port, args, welcome, proc_name="hallq-region")
    return 0


if __name__ == "__main__":
    sys.exit(main())

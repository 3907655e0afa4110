"""The `volbot` command: run | migrate | console | i18n {check,extract,update,compile}."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

NO_TOKEN = (
    "volbot needs a bot token. Open Telegram, write to @BotFather, send /newbot and follow the steps; "
    "it answers with a token like 123456789:AA…. Put it in a .env file in this folder as "
    "BOT_TOKEN=123456789:AA… (or export BOT_TOKEN) and run `volbot run` again. "
    "To try volbot without Telegram, run `volbot console`."
)


def _logging(verbose: bool = False, secrets: tuple[str | None, ...] = ()) -> None:
    from bot.logging_setup import configure_logging

    # LOG_FORMAT=json|kv|text; the bot token and webhook secret are redacted from every line.
    configure_logging(verbose=verbose, secrets=secrets)


def cmd_run(args: argparse.Namespace) -> int:
    from bot.config import get_settings
    from bot.i18n import compile_catalogues
    from bot.startup import EXIT_CONFIG, check_database, explain, preflight, settings_error

    try:
        settings = get_settings()
    except Exception as err:
        message = settings_error(err)
        if message is None:
            raise
        print(message, file=sys.stderr)
        return EXIT_CONFIG
    if not settings.bot_token:
        print(NO_TOKEN, file=sys.stderr)
        return 2
    _logging(args.verbose, (settings.bot_token, settings.webhook_secret))
    try:
        # Each start-up fault: one sentence and a non-zero exit, not a traceback and a restart loop.
        url = preflight(settings)
        asyncio.run(check_database(url))
        compile_catalogues()
        if settings.webhook_url:
            from bot.web.webhook import serve_webhook  # type: ignore[import-not-found,unused-ignore]

            asyncio.run(serve_webhook(settings))
        else:
            from bot.runner import serve

            asyncio.run(serve(settings))
    except Exception as err:
        message = explain(err, settings)
        if message is None:
            raise
        print(message, file=sys.stderr)
        return EXIT_CONFIG
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from bot.config import get_settings
    from bot.db.engine import create_engine
    from bot.db.migrate import upgrade

    async def go() -> None:
        engine = create_engine(get_settings().database_url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(go())
    print("database is up to date")
    return 0


def cmd_console(args: argparse.Namespace) -> int:
    from bot.config import get_settings
    from bot.console import main_console
    from bot.i18n import compile_catalogues

    compile_catalogues()
    logging.basicConfig(level=logging.WARNING)
    main_console(get_settings(), user_id=args.user, first_name=args.name, lang=args.lang, group=args.group)
    return 0


def cmd_i18n(args: argparse.Namespace) -> int:
    from bot import i18n_tools

    if args.action == "check":
        problems = i18n_tools.check()
        for p in problems:
            print(p)
        if problems:
            print(f"{len(problems)} problem(s)", file=sys.stderr)
            return 1
        print(i18n_tools.summary())
        return 0
    if args.action == "extract":
        i18n_tools.extract()
        return 0
    if args.action == "update":
        i18n_tools.extract()
        i18n_tools.update()
        return 0
    if args.action == "todo":
        import json

        print(json.dumps(i18n_tools.todo(), ensure_ascii=False, indent=1))
        return 0
    if args.action == "apply":
        import json
        from pathlib import Path

        if not args.file:
            print("usage: volbot i18n apply FILE.json", file=sys.stderr)
            return 2
        n = i18n_tools.apply(json.loads(Path(args.file).read_text(encoding="utf-8")))
        print(f"{n} translations set")
        return 0
    if args.action == "compile":
        from bot.i18n import compile_catalogues

        for path in compile_catalogues():
            print(path)
        return 0
    return 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="volbot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the bot (polling, or webhook mode with WEBHOOK_URL)")
    run.add_argument("-v", "--verbose", action="store_true")
    run.set_defaults(func=cmd_run)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    con = sub.add_parser("console", help="chat with the bot in this terminal, no Telegram needed")
    con.add_argument("--user", type=int, default=1001, help="Telegram user id to act as")
    con.add_argument("--name", default="Console", help="first name of that user")
    con.add_argument("--lang", default=None, help="the user's Telegram language (da, ar, ti, en)")
    con.add_argument("--group", default=None, help="talk in a group of this name instead of privately")
    con.set_defaults(func=cmd_console)
    i18n = sub.add_parser("i18n", help="translation catalogues")
    i18n.add_argument("action", choices=["check", "extract", "update", "compile", "todo", "apply"])
    i18n.add_argument("file", nargs="?", help="for apply: a JSON file {msgid: {lang: text or [forms]}}")
    i18n.set_defaults(func=cmd_i18n)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())

"""The payrecon command line. Every command exits 2 with a one-line error on bad input (like argparse)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date
from pathlib import Path

from payrecon import __version__


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="payrecon",
        description="Payment reconciliation: ingest statements, match payments to invoices, credit balances once, report.",
    )
    parser.add_argument("--version", action="version", version=f"payrecon {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="make a realistic demo workspace and run the nightly flow end to end")
    demo.set_defaults(handler=cmd_demo)

    parse = commands.add_parser("parse", help="print the normalized records of one file as JSON Lines")
    parse.add_argument("file", type=Path)
    parse.add_argument("--source", help="the source (format) name; detected when omitted")
    parse.set_defaults(handler=cmd_parse)

    sources = commands.add_parser("sources", help="list the registered sources (formats)")
    sources.set_defaults(handler=cmd_sources)

    imp = commands.add_parser("import", help="load a billing-system export (CSV or Parquet)")
    imp.add_argument("kind", choices=["organizations", "invoices", "card-payments", "usage", "subscriptions"])
    imp.add_argument("file", type=Path)
    imp.set_defaults(handler=cmd_import)

    ingest = commands.add_parser("ingest", help="store, parse, validate and load raw files; idempotent")
    ingest.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    ingest.add_argument("--source", help="force a source instead of detecting it")
    ingest.set_defaults(handler=cmd_ingest)

    drop = commands.add_parser("drop", help="put files into the inbox and announce them to Prefect (the inbox-ingestion deployment runs)")
    drop.add_argument("paths", nargs="+", type=Path, metavar="FILE")
    drop.set_defaults(handler=cmd_drop)

    run = commands.add_parser("run", help="run a flow through Prefect")
    run_flows = run.add_subparsers(dest="flow", required=True, metavar="FLOW")
    nightly = run_flows.add_parser("nightly", help="the nightly reconciliation flow")
    nightly.add_argument("--as-of", type=_date, help="the report date YYYY-MM-DD (default: today)")
    nightly.set_defaults(handler=cmd_run_nightly)

    history = commands.add_parser("billing-history", help="debits by day and channel, and top-ups, for an organization and a period")
    history.add_argument("--org", required=True, help="the organization's org_id")
    history.add_argument("--from", dest="start", required=True, type=_date, metavar="DATE")
    history.add_argument("--to", dest="end", required=True, type=_date, metavar="DATE")
    history.add_argument("--format", choices=["table", "json"], default="table")
    history.set_defaults(handler=cmd_billing_history)

    docs = commands.add_parser("data-dictionary", help="write the data dictionary of the report datasets (Markdown)")
    docs.add_argument("--output", type=Path, help="file to write (default: print)")
    docs.set_defaults(handler=cmd_data_dictionary)

    receipts = commands.add_parser("receipts", help="payment receipts emailed to sales: take in, read, settle")
    receipt_commands = receipts.add_subparsers(dest="receipts_command", required=True, metavar="ACTION")
    take_in = receipt_commands.add_parser("ingest", help="take in .eml files (default: PAYRECON_RECEIPTS_INBOX), credit provisionally what checks out")
    take_in.add_argument("paths", nargs="*", type=Path, metavar="PATH", help=".eml files or folders")
    take_in.add_argument("--as-of", type=_date, help="the business day they arrived (default: today)")
    take_in.set_defaults(handler=cmd_receipts_ingest)
    read = receipt_commands.add_parser("parse", help="print the receipts of one .eml (or a PDF/JPEG/PNG) as JSON Lines, without storing anything")
    read.add_argument("file", type=Path)
    read.set_defaults(handler=cmd_receipts_parse)
    settle = receipt_commands.add_parser("settle", help="flag late provisional credits and reverse them when the policy says so")
    settle.add_argument("--as-of", type=_date, help="the business day (default: today)")
    settle.set_defaults(handler=cmd_receipts_settle)

    serve = commands.add_parser("serve", help="serve every deployment of prefect.yaml for the Prefect UI")
    serve.set_defaults(handler=cmd_serve)
    return parser


def cmd_parse(args) -> int:
    from payrecon.settings import Settings
    from sources.masking import mask_record
    from sources.registry import build_sources, parse_file

    settings = Settings.from_env()
    source, result = parse_file(args.file, build_sources(settings.privat24_columns), args.source)
    out = sys.stdout
    for record in result.records:  # card numbers masked, as at ingest
        out.write(json.dumps(mask_record(record).as_dict(), ensure_ascii=False, sort_keys=True) + "\n")
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"{args.file.name}: {source.name}, {len(result.records)} of {result.transactions_found} lines", file=sys.stderr)
    return 0


def cmd_sources(args) -> int:
    from sources.registry import build_sources

    for source in build_sources():
        print(source.name)
    return 0


def cmd_import(args) -> int:
    from payrecon.services.imports import import_export
    from payrecon.workspace import Workspace

    workspace = Workspace()
    if not args.file.is_file():
        raise FileNotFoundError(f"{args.file}: no such file")
    outcome = import_export(workspace.engine, workspace.raw_store, args.kind, args.file)
    print(outcome.line())
    return 0


def cmd_ingest(args) -> int:
    from payrecon.services.ingest import ingest_paths
    from payrecon.workspace import Workspace

    workspace = Workspace()
    outcomes = ingest_paths(workspace.engine, workspace.raw_store, workspace.sources, args.paths, args.source)
    for outcome in outcomes:
        print(outcome.line())
    return 0


def cmd_drop(args) -> int:
    import shutil

    from payrecon.settings import Settings

    settings = Settings.from_env()
    settings.inbox.mkdir(parents=True, exist_ok=True)
    for path in args.paths:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file")
        target = settings.inbox / path.name
        if target.exists() and target.read_bytes() != path.read_bytes():
            target = settings.inbox / f"{path.stem}-{int(time.time())}{path.suffix}"
        shutil.copyfile(path, target)
        print(f"{path.name}: in the inbox as {target.name}")
        if os.environ.get("PREFECT_API_URL"):
            from payrecon.deployments import announce_file_landed

            announce_file_landed(target.name)
    if not os.environ.get("PREFECT_API_URL"):
        print("PREFECT_API_URL is not set: no event sent; the next scheduled inbox run will pick the files up")
    return 0


def cmd_run_nightly(args) -> int:
    from payrecon.settings import Settings

    Settings.from_env()  # fail fast, before Prefect starts
    from flows.nightly import nightly
    from payrecon.deployments import ensure_concurrency_limits

    ensure_concurrency_limits()
    result = nightly(as_of=args.as_of)
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


def cmd_billing_history(args) -> int:
    from payrecon.reports.billing_history import as_table, billing_history
    from payrecon.workspace import Workspace

    history = billing_history(Workspace().engine, args.org, args.start, args.end)
    print(json.dumps(history, ensure_ascii=False, indent=2) if args.format == "json" else as_table(history))
    return 0


def cmd_data_dictionary(args) -> int:
    from payrecon.reports.data_dictionary import data_dictionary

    text = data_dictionary()
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        print(text, end="")
    return 0


def cmd_receipts_ingest(args) -> int:
    from datetime import datetime

    from payrecon.services import receipts
    from payrecon.services.ingest import expand_paths
    from payrecon.workspace import Workspace

    workspace = Workspace()
    settings = workspace.settings
    as_of = args.as_of or datetime.now(settings.tz).date()
    if args.paths:
        outcomes = [receipts.ingest_receipt_email(workspace.engine, workspace.raw_store, settings.receipts, path.name,
                                                  path.read_bytes(), as_of, settings.tz) for path in expand_paths(args.paths)]
    else:
        outcomes = receipts.ingest_receipt_inbox(workspace.engine, workspace.raw_store, settings.receipts, as_of, settings.tz)
    for outcome in outcomes:
        print(outcome.line())
    if not outcomes:
        print(f"no new email in {settings.receipts.inbox}")
    return 0


def cmd_receipts_parse(args) -> int:
    from payrecon.services.receipts import parse_receipts
    from payrecon.settings import Settings

    if not args.file.is_file():
        raise FileNotFoundError(f"{args.file}: no such file")
    for record in parse_receipts(args.file.name, args.file.read_bytes(), Settings.from_env().receipts):
        sys.stdout.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
    return 0


def cmd_receipts_settle(args) -> int:
    from datetime import datetime

    from payrecon.services.receipts import settle_receipts
    from payrecon.workspace import Workspace

    workspace = Workspace()
    as_of = args.as_of or datetime.now(workspace.settings.tz).date()
    summary = settle_receipts(workspace.engine, workspace.settings.receipts, workspace.settings.calendar, as_of)
    print(f"{as_of}: {len(summary.late)} provisional receipt credit(s) late, {len(summary.reversed)} reversed")
    return 0


def cmd_serve(args) -> int:
    from payrecon.deployments import serve_all

    serve_all()
    return 0


def cmd_demo(args) -> int:
    from payrecon.demo import run_demo

    print(run_demo())
    return 0


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("payrecon: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one line for a person, not a traceback
        from sqlalchemy.exc import SQLAlchemyError

        if isinstance(exc, SQLAlchemyError):
            message = f"database error: {str(exc).splitlines()[0]}"
        elif isinstance(exc, (ValueError, OSError, LookupError)):
            message = str(exc) or type(exc).__name__
        else:
            message = f"{type(exc).__name__}: {exc}"
        print(f"payrecon: error: {message.splitlines()[0] if message else type(exc).__name__}", file=sys.stderr)
        if os.environ.get("PAYRECON_DEBUG"):
            raise
        return 2


if __name__ == "__main__":
    sys.exit(main())

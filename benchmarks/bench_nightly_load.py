"""Benchmark (issue 9): the whole nightly on PostgreSQL at production scale, each stage's time and
peak memory.

    .venv/bin/python benchmarks/bench_nightly_load.py [--bank-lines 1000000] [--orgs 100000]
        [--settlement-rows 1000000] [--usage-rows 100000] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test]

Data (generated first, not part of the night): 100k organizations with 200k invoices and their
registered accounts and payer names (the matching evaluation world, tests/matching_eval.py, whose
million-line stream mixes invoice payments in every spelling, tax-ID and known-account top-ups, ФОП
payments, foreign transfers, conflicts, refunds); those bank lines as real camt.053 statements of
100k entries (chained, balanced); Adyen settlement details reports (SDR) with 1M rows in payout
batches, the platform's card payments those rows settle, and the bank lines that received the
payouts; one day of usage.

The night runs on a fresh database `payrecon_bench_<pid>` (dropped at the end), each stage in a
fresh child process (`--child STAGE`) so each peak RSS (VmHWM) is that stage's own:

- imports: the billing exports (organizations, invoices, card payments, usage), before the night;
- ingest: the bank statements (store, parse, validate, load);
- settlements: the SDR files, the same way;
- reconcile: settlements linked, bank lines matched, credits posted (`payrecon.services.reconcile`),
  split into matching (the engine's own timings) and everything else (reading and posting);
- reports: every report dataset with its contract and Data Docs;
- notify: flags and notifications (no SMTP server: messages are counted, not sent).

The target: the night (ingest through notify) under 5 minutes on the 2-core development machine.
Bulk writes on PostgreSQL go through COPY (ledger/repository.py); `--copy-min-rows` changes the
threshold to compare with multi-row VALUES inserts.

To work on one stage: `--snapshot-before reconcile --stop-after reconcile` keeps a copy of the
database as it was before that stage (its name and the files' folder are printed), then
`--from-snapshot DATABASE WORK AS_OF [--stages reconcile ...] [--profile reconcile]` runs only those
stages, any number of times, each on a fresh clone of the copy. The reconcile's writes on its second
connection (payrecon/services/reconcile.py) are reported apart, as side_*_seconds: they overlap the
main connection's.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

NIGHT = ("ingest", "settlements", "reconcile", "reports", "notify")
STAGES = ("imports", *NIGHT)
ENTRIES_PER_STATEMENT = 100_000
SDR_ROWS_PER_FILE = 250_000
SDR_BATCH = 1000
TARGET_SECONDS = 300
OUR_ACCOUNTS = {"UAH": "UA213052990000026007233566001", "USD": "UA903052990000026005233566002", "EUR": "UA603052990000026004233566003"}


def peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


# --- data ------------------------------------------------------------------------------------------


def _money(amount: Decimal) -> str:
    return format(abs(amount), "f")


def write_statements(folder: Path, lines, payouts: list[tuple[str, Decimal, date]]) -> tuple[int, int]:
    """camt.053 statements: per currency one account, chained statements of ENTRIES_PER_STATEMENT
    entries in booking order with opening and closing balances. Returns (files, entries)."""
    by_currency: dict[str, list[tuple]] = defaultdict(list)
    for line in lines.itertuples(index=False):
        by_currency[line.currency].append(
            (line.booking_date, line.line_id, line.amount, line.counterparty_name, line.counterparty_account,
             line.counterparty_tax_id, line.remittance, line.ultimate_payer_name)
        )
    for batch, amount, day in payouts:
        by_currency["EUR"].append((day, f"PAYOUT{batch}", amount, "Adyen N.V.", "NL82ABNA0240513123", None,
                                   f"ADYEN PAYOUT TX{batch}XT batch {batch}", None))
    files = entries = 0
    for currency, rows in sorted(by_currency.items()):
        rows.sort(key=lambda r: (r[0], r[1]))
        balance = Decimal(0)
        for sequence, start in enumerate(range(0, len(rows), ENTRIES_PER_STATEMENT), start=1):
            chunk = rows[start : start + ENTRIES_PER_STATEMENT]
            path = folder / f"camt053_{currency}_{sequence:03d}.xml"
            balance = _write_statement(path, currency, sequence, chunk, balance)
            files += 1
            entries += len(chunk)
    return files, entries


def _text(value) -> str | None:
    return None if value is None or value != value else escape(str(value))  # NaN from pandas is not equal to itself


def _write_statement(path: Path, currency: str, sequence: int, rows: list[tuple], opening: Decimal) -> Decimal:
    account = OUR_ACCOUNTS[currency]
    closing = opening + sum((r[2] for r in rows), Decimal(0))

    def balance(code: str, amount: Decimal, day: date) -> str:
        return (f'<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy="{currency}">{_money(amount)}</Amt>'
                f'<CdtDbtInd>{"CRDT" if amount >= 0 else "DBIT"}</CdtDbtInd><Dt><Dt>{day.isoformat()}</Dt></Dt></Bal>\n')

    with open(path, "w", encoding="utf-8") as out:
        out.write(
            '<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">'
            f"<BkToCstmrStmt><GrpHdr><MsgId>BENCH-{currency}-{sequence}</MsgId><CreDtTm>2026-12-01T06:00:00+02:00</CreDtTm></GrpHdr>\n"
            f"<Stmt><Id>BENCH-{currency}-{sequence:03d}</Id><ElctrncSeqNb>{sequence}</ElctrncSeqNb>"
            f"<CreDtTm>2026-12-01T06:00:00+02:00</CreDtTm><Acct><Id><IBAN>{account}</IBAN></Id><Ccy>{currency}</Ccy></Acct>\n"
        )
        out.write(balance("OPBD", opening, rows[0][0]))
        for day, ref, amount, name, iban, tax, remittance, ultimate in rows:
            incoming = amount >= 0
            role = "Dbtr" if incoming else "Cdtr"
            party = f"<Nm>{_text(name)}</Nm>" if _text(name) else ""
            tax = _text(tax)
            if tax:
                party += f"<Id><{'OrgId' if len(tax) == 8 else 'PrvtId'}><Othr><Id>{tax}</Id></Othr></{'OrgId' if len(tax) == 8 else 'PrvtId'}></Id>"
            related = f"<{role}>{party}</{role}>" if party else ""
            if _text(iban):
                related += f"<{role}Acct><Id>{'<IBAN>' + iban + '</IBAN>' if iban[:2].isalpha() and len(iban) > 15 else '<Othr><Id>' + _text(iban) + '</Id></Othr>'}</Id></{role}Acct>"
            if _text(ultimate):
                related += f"<Ultmt{role}><Nm>{_text(ultimate)}</Nm></Ultmt{role}>"
            text = _text(remittance)
            out.write(
                f'<Ntry><Amt Ccy="{currency}">{_money(amount)}</Amt><CdtDbtInd>{"CRDT" if incoming else "DBIT"}</CdtDbtInd>'
                f"<Sts>BOOK</Sts><BookgDt><Dt>{day.isoformat()}</Dt></BookgDt><ValDt><Dt>{day.isoformat()}</Dt></ValDt>"
                f"<AcctSvcrRef>{ref}</AcctSvcrRef><NtryDtls><TxDtls><Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>"
                f"<RltdPties>{related}</RltdPties>" + (f"<RmtInf><Ustrd>{text}</Ustrd></RmtInf>" if text else "")
                + "</TxDtls></NtryDtls></Ntry>\n"
            )
        out.write(balance("CLBD", closing, rows[-1][0]))
        out.write("</Stmt></BkToCstmrStmt></Document>\n")
    return closing


SDR_HEADER = (
    "Company Account,Merchant Account,Psp Reference,Merchant Reference,Payment Method,Creation Date,TimeZone,Type,"
    "Modification Reference,Gross Currency,Gross Debit (GC),Gross Credit (GC),Exchange Rate,Net Currency,Net Debit (NC),"
    "Net Credit (NC),Commission (NC),Markup (NC),Scheme Fees (NC),Interchange (NC),Payment Method Variant,"
    "Modification Merchant Reference,Batch Number,Reserved4,Reserved5,Reserved6,Reserved7,Reserved8,Reserved9,Reserved10\n"
)


def _cents(value: int) -> str:
    return f"{'-' if value < 0 else ''}{abs(value) // 100}.{abs(value) % 100:02d}"


def write_settlements(folder: Path, rows: int, org_ids: list[str], rng: random.Random):
    """Adyen SDR files (SDR_ROWS_PER_FILE rows each) in payout batches of SDR_BATCH rows, and the
    platform's card payments the Settled rows settle. Returns (files, card payment rows, payouts)."""
    payments, payouts = [], []
    written, batch, files = 0, 1000, 0
    out = None
    while written < rows:
        if written % SDR_ROWS_PER_FILE == 0:
            if out:
                out.close()
            files += 1
            out = open(folder / f"adyen_sdr_{files:03d}.csv", "w", encoding="utf-8", newline="")
            out.write(SDR_HEADER)
        in_batch = min(SDR_BATCH, rows - written, SDR_ROWS_PER_FILE - written % SDR_ROWS_PER_FILE)
        net_total = 0
        for index in range(in_batch - 1):
            number = written + index
            gross = 500 + rng.randrange(200_000)
            fees = 12 + gross // 50
            day = 1 + number % 27
            created = f"2026-11-{day:02d} {number // 3600 % 24:02d}:{number // 60 % 60:02d}:{number % 60:02d}"
            reference = f"card-2026-{number:08d}"
            if number % 10 == 9:  # a refund of an earlier payment: Net Debit includes the fees
                net_total -= gross + fees
                journal, gdebit, gcredit, ndebit, ncredit = "Refunded", _cents(gross), "", _cents(gross + fees), ""
            else:
                net_total += gross - fees
                journal, gdebit, gcredit, ndebit, ncredit = "Settled", "", _cents(gross), "", _cents(gross - fees)
                payments.append((reference, rng.choice(org_ids), "adyen", f"PSP{number:013d}",
                                 f"2026-11-{day:02d}T10:00:00+00:00", "EUR", _cents(gross)))
            out.write(
                f"PayreconDemo,PayreconDemoEUR,PSP{number:013d},{reference},visa,{created},CET,{journal},"
                f"MOD{number:013d},EUR,{gdebit},{gcredit},1,EUR,{ndebit},{ncredit},{_cents(fees // 3)},{_cents(fees // 3)},"
                f"{_cents(fees // 6)},{_cents(fees - 2 * (fees // 3) - fees // 6)},visacredit,,{batch},,,,,,,\n"
            )
        out.write(
            f'PayreconDemo,PayreconDemoEUR,,,,2026-11-28 18:00:00,CET,MerchantPayout,"TX{batch}XT batch {batch}, PayreconDemoEUR",'
            f",,,,EUR,{_cents(net_total)},,,,,,,,{batch},,,,,,,\n"
        )
        if net_total > 0:
            payouts.append((batch, Decimal(net_total).scaleb(-2), date(2026, 11, 30)))
        written += in_batch
        batch += 1
    out.close()
    return files, payments, payouts


def _write_csv(path: Path, header: list[str], rows) -> int:
    count = 0
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def generate(work: Path, args) -> dict:
    from tests.matching_eval import World

    started = time.perf_counter()
    world = World(n_orgs=args.orgs, seed=11, invoices_per_org=(2, 2), status_weights=(0.94, 0.06, 0, 0))
    data = world.stream(args.bank_lines)
    exports, inbox, sdr = work / "exports", work / "statements", work / "settlements"
    for folder in (exports, inbox, sdr):
        folder.mkdir(parents=True, exist_ok=True)
    ibans = data.organization_ibans.groupby("org_id")["iban"].agg(";".join).to_dict()
    orgs = data.organizations
    _write_csv(exports / "organizations.csv", ["org_id", "name", "legal_name", "tax_id", "ibans", "currency", "notify_emails"],
               ([o.org_id, o.name, o.legal_name, _plain(o.tax_id), ibans.get(o.org_id, ""), o.currency,
                 f"billing@{o.org_id}.example.com" if args.notify_emails else ""] for o in orgs.itertuples(index=False)))
    invoices = data.invoices
    _write_csv(exports / "invoices.csv", ["invoice_number", "org_id", "issued_on", "due_on", "currency", "amount", "status"],
               ([i.invoice_number, i.org_id, i.issued_on.isoformat(), i.due_on.isoformat() if i.due_on else "", i.currency,
                 str(i.amount), "open"] for i in invoices.itertuples(index=False)))
    rng = random.Random(11)
    org_ids = list(orgs["org_id"])
    sdr_files, payments, payouts = write_settlements(sdr, args.settlement_rows, org_ids, rng)
    _write_csv(exports / "card-payments.csv", ["payment_id", "org_id", "provider", "provider_ref", "paid_at", "currency", "amount"], payments)
    as_of = max(data.lines["booking_date"].max(), date(2026, 11, 30))
    channels = ("email", "sms", "viber", "webpush", "mobilepush", "app_inbox", "telegram", "whatsapp")
    usage = ((as_of.isoformat(), org_ids[n % len(org_ids)], channels[n // len(org_ids) % len(channels)], 100 + n % 900,
              orgs["currency"].iat[n % len(org_ids)], str(Decimal(100 + n % 900) * Decimal("0.05"))) for n in range(args.usage_rows))
    _write_csv(exports / "usage.csv", ["date", "org_id", "channel", "quantity", "currency", "amount"], usage)
    statement_files, entries = write_statements(inbox, data.lines, payouts)
    return {"seconds": round(time.perf_counter() - started, 1), "organizations": len(orgs), "invoices": len(invoices),
            "bank_lines": entries, "statement_files": statement_files, "settlement_rows": args.settlement_rows,
            "settlement_files": sdr_files, "card_payments": len(payments), "payouts": len(payouts), "usage_rows": args.usage_rows,
            "as_of": as_of.isoformat(),
            "megabytes": round(sum(p.stat().st_size for p in work.rglob("*") if p.is_file()) / 2**20)}


def _plain(value) -> str:
    return "" if value is None or value != value else str(value)


# --- the stages, each in its own child process --------------------------------------------------


class WriteTimers:
    """Wall-clock seconds spent in ledger.repository's bulk writes and key look-ups during a
    stage: journal entries posted, other rows inserted or upserted, keys looked up. Installed by
    replacing the functions wherever the services imported them."""

    NAMES = ("post_entries", "post_transfers", "insert_ignore", "insert_columns", "insert_new_keys", "upsert", "existing_keys")

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.local = threading.local()  # per thread: only the outermost call counts (post_entries' own inserts are posting)

    def install(self) -> None:
        from ledger import repository

        originals = {name: getattr(repository, name) for name in self.NAMES}
        wrapped = {name: self._wrap(name, function) for name, function in originals.items()}
        for module in [m for n, m in sys.modules.items() if n.startswith(("ledger", "payrecon"))]:
            for name, function in originals.items():
                if getattr(module, name, None) is function:
                    setattr(module, name, wrapped[name])

    def _wrap(self, name: str, function):
        kind = {"post_entries": "posting", "post_transfers": "posting", "existing_keys": "key_lookups"}.get(name, "other_writes")

        def timed(*args, **kwargs):
            if getattr(self.local, "depth", 0):
                return function(*args, **kwargs)
            self.local.depth = 1
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                # The reconcile's second connection writes beside the main one: its time is its own figure.
                side = threading.current_thread().name.startswith("reconcile-side")
                self.seconds[f"side_{kind}" if side else kind] += time.perf_counter() - started
                self.local.depth = 0

        return timed

    def figures(self) -> dict:
        return {f"{k}_seconds": round(v, 1) for k, v in sorted(self.seconds.items())}


def child(stage: str, work: Path, as_of: date, copy_min_rows: int | None) -> dict:
    from ledger import repository

    if copy_min_rows is not None:
        repository.COPY_MIN_ROWS = copy_min_rows
    from payrecon.settings import Settings
    from payrecon.workspace import Workspace

    settings = Settings.from_env()
    workspace = Workspace(settings)
    engine = workspace.engine
    import payrecon.services.imports  # noqa: F401 - imported before the timers replace what they use
    import payrecon.services.ingest  # noqa: F401
    import payrecon.services.notifications  # noqa: F401
    import payrecon.services.reconcile  # noqa: F401
    import payrecon.services.reports  # noqa: F401

    timers = WriteTimers()
    timers.install()
    started, cpu = time.perf_counter(), time.process_time()
    figures: dict = {}
    if stage == "imports":
        from payrecon.services.imports import import_export

        for kind in ("organizations", "invoices", "card-payments", "usage"):
            t = time.perf_counter()
            outcome = import_export(engine, workspace.raw_store, kind, work / "exports" / f"{kind}.csv")
            figures[kind] = {"rows": outcome.loaded, "rejected": len(outcome.rejected), "seconds": round(time.perf_counter() - t, 1)}
    elif stage in ("ingest", "settlements"):
        from payrecon.services.ingest import expand_paths, ingest_file

        outcomes = [ingest_file(engine, workspace.raw_store, workspace.sources, path)
                    for path in expand_paths([work / ("statements" if stage == "ingest" else "settlements")])]
        figures = {"files": len(outcomes), "records": sum(o.records_loaded for o in outcomes),
                   "quarantined_files": sum(o.status == "quarantined" for o in outcomes),
                   "rows_quarantined": sum(o.rows_quarantined for o in outcomes), "flags": sum(len(o.flags) for o in outcomes)}
    elif stage == "reconcile":
        from payrecon.services.reconcile import reconcile
        from reconcilers.plan import MatchPlan

        summary = reconcile(engine, MatchPlan.from_settings(settings), as_of)
        matching = sum(summary.seconds.values())
        figures = {"lines_decided": summary.lines_decided, "credits": summary.credits, "reviews": summary.reviews,
                   "exceptions": summary.exceptions, "invoices_settled": summary.invoices_settled,
                   "payments_settled": summary.settlements.payments_settled, "payouts_received": summary.settlements.payouts_received,
                   "usage_entries": summary.usage_entries, "card_entries": summary.card_entries,
                   "matching_seconds": round(matching, 1), "matching_steps": {k: round(v, 1) for k, v in summary.seconds.items()}}
    elif stage == "reports":
        from payrecon.services.reports import build_reports

        summary = build_reports(engine, workspace.report_store, as_of, settings.report_lookback_days, calendar=settings.calendar,
                                suspense_days=settings.suspense_days, docs_dir=str(settings.data_docs),
                                settlement_days=settings.settlement_days, payout_days=settings.payout_days)
        figures = {"partitions": summary.written, "delays": summary.delays}
    elif stage == "notify":
        from payrecon.services.notifications import current_flags, send_notifications, update_flags

        flags = current_flags(engine, as_of, settings.calendar, settings.suspense_days, settings.settlement_days, settings.payout_days)
        changes = update_flags(engine, flags, as_of, settings.calendar, settings.escalate_days)
        summary = send_notifications(engine, None, settings.finance_emails, flags, changes.escalated)
        figures = {"flags": len(flags), "raised": len(changes.raised), "messages_waiting_for_smtp": summary.pending_without_smtp}
    seconds = time.perf_counter() - started
    figures.update(timers.figures())
    if stage == "reconcile":
        main = sum(v for k, v in timers.seconds.items() if not k.startswith("side_"))
        figures["everything_else_seconds"] = round(seconds - figures["matching_seconds"] - main, 1)
    return {"stage": stage, "seconds": round(seconds, 1), "cpu_seconds": round(time.process_time() - cpu, 1),
            "peak_rss_mib": peak_rss_mib(), **figures}


def _table_sizes(url: str) -> dict:
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sqlalchemy.text(
            "SELECT relname, n_live_tup, pg_total_relation_size(relid) FROM pg_stat_user_tables ORDER BY 3 DESC LIMIT 8")).all()
        size = conn.execute(sqlalchemy.text("SELECT pg_database_size(current_database())")).scalar()
    engine.dispose()
    return {"database_mib": round(size / 2**20), "largest": {r[0]: {"rows": r[1], "mib": round(r[2] / 2**20)} for r in rows}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bank-lines", type=int, default=1_000_000)
    parser.add_argument("--orgs", type=int, default=100_000, help="organizations; each has two invoices")
    parser.add_argument("--settlement-rows", type=int, default=1_000_000)
    parser.add_argument("--usage-rows", type=int, default=100_000)
    parser.add_argument("--pg", default=os.environ.get("PAYRECON_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
                        help="a PostgreSQL server URL whose user may create databases")
    parser.add_argument("--notify-emails", action="store_true",
                        help="give every organization a billing address, so every credit waits for a notification")
    parser.add_argument("--copy-min-rows", type=int, help="override ledger.repository.COPY_MIN_ROWS (e.g. 10**9: no COPY)")
    parser.add_argument("--keep", action="store_true", help="keep the database and files (their names are printed)")
    parser.add_argument("--profile", nargs="+", choices=STAGES, help="print these stages' cProfile (cumulative) to stderr")
    parser.add_argument("--snapshot-before", choices=NIGHT,
                        help="before this stage, copy the database to <name>_before_<stage> and keep it and the files "
                             "(their names are printed), to re-run stages on it with --from-snapshot")
    parser.add_argument("--from-snapshot", nargs=3, metavar=("DATABASE", "WORK", "AS_OF"),
                        help="skip generating: clone DATABASE (a --snapshot-before copy) and run --stages on it with the files in WORK")
    parser.add_argument("--stages", nargs="+", choices=STAGES, help="with --from-snapshot: the stages to run (default: reconcile)")
    parser.add_argument("--stop-after", choices=STAGES, help="run the stages up to this one only")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--as-of", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run = lambda: child(args.child, args.work, date.fromisoformat(args.as_of), args.copy_min_rows)  # noqa: E731
        if args.child in (args.profile or ()):
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            result = profiler.runcall(run)
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(45)
        else:
            result = run()
        print(json.dumps(result))
        return

    import sqlalchemy

    name = f"payrecon_bench_{os.getpid()}"
    admin = sqlalchemy.create_engine(args.pg, isolation_level="AUTOCOMMIT")
    url = args.pg.rsplit("/", 1)[0] + f"/{name}"
    snapshot = args.from_snapshot
    work = Path(snapshot[1]) if snapshot else Path(tempfile.mkdtemp(prefix="bench_nightly_"))
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{snapshot[0]}"' if snapshot else "")))
    try:
        if snapshot:
            made = {"as_of": snapshot[2]}
            stages = tuple(args.stages or ("reconcile",))
        else:
            made = generate(work, args)
            print(f"generated in {made.pop('seconds')} s: {json.dumps(made)}", flush=True)
            stages = STAGES[: STAGES.index(args.stop_after) + 1] if args.stop_after else STAGES
        env = {**os.environ, "PAYRECON_HOME": str(work / "home"), "PAYRECON_DATABASE_URL": url, "GX_ANALYTICS_ENABLED": "false"}
        for variable in ("PAYRECON_STORAGE_URL", "PAYRECON_REPORTS_URL", "PAYRECON_SMTP_HOST"):
            env.pop(variable, None)
        results = []
        for stage in stages:
            if stage == args.snapshot_before:
                copy = f"{name}_before_{stage}"
                with admin.connect() as conn:
                    conn.execute(sqlalchemy.text(f'CREATE DATABASE "{copy}" TEMPLATE "{name}"'))
                print(f"snapshot: --from-snapshot {copy} {work} {made['as_of']}", flush=True)
            command = [sys.executable, __file__, "--child", stage, "--work", str(work), "--as-of", made["as_of"]]
            if args.copy_min_rows is not None:
                command += ["--copy-min-rows", str(args.copy_min_rows)]
            if args.profile:
                command += ["--profile", *args.profile]
            run = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True)
            if run.returncode:
                sys.exit(f"stage {stage} failed:\n{run.stderr[-3000:]}")
            if stage in (args.profile or ()):
                print(run.stderr[run.stderr.find("   Ordered by"):], file=sys.stderr)
            result = json.loads(run.stdout.strip().splitlines()[-1])
            results.append(result)
            print(f"{stage:>12}: {result['seconds']:>7} s (CPU {result['cpu_seconds']} s), peak RSS {result['peak_rss_mib']} MiB; "
                  + json.dumps({k: v for k, v in result.items() if k not in ('stage', 'seconds', 'cpu_seconds', 'peak_rss_mib')}),
                  flush=True)
        if snapshot or args.stop_after:
            return
        night = sum(r["seconds"] for r in results if r["stage"] in NIGHT)
        peak = max(r["peak_rss_mib"] for r in results if r["stage"] in NIGHT)
        verdict = "met" if night < TARGET_SECONDS else "NOT met"
        print(f"the night (ingest .. notify): {night:.1f} s, the largest stage peak RSS {peak} MiB; "
              f"target {TARGET_SECONDS} s: {verdict}. Billing imports before it: {results[0]['seconds']} s.")
        print(f"database after the night: {json.dumps(_table_sizes(url))}")
    finally:
        if args.keep:
            print(f"kept: database {url}, files {work}")
        else:
            import shutil

            if not (snapshot or args.snapshot_before):
                shutil.rmtree(work, ignore_errors=True)
            with admin.connect() as conn:
                conn.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()

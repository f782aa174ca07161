"""`payrecon demo`: a realistic workspace, and the nightly flow run over it.

Everything is derived from a fixed seed and a fixed day, so running the demo twice writes the same
files (their hashes match, so they are skipped) and the ledger ends with the same credits.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from payrecon.settings import Settings
from reconcilers.evidence import edrpou_with_check_digit, make_iban

DEMO_DAY = date(2026, 11, 20)  # a Friday: the statement covers the working days before it
OUR_IBAN = make_iban("UA", "305299" + "0000026007233566001")
CHANNELS = ("email", "sms", "viber", "webpush", "mobilepush", "app_inbox", "telegram", "whatsapp")

_COMPANIES = [
    ("ТОВ «Сонячна Долина»", "ТОВАРИСТВО З ОБМЕЖЕНОЮ ВІДПОВІДАЛЬНІСТЮ «СОНЯЧНА ДОЛИНА»", "UAH"),
    ("ТОВ «Київ Маркет Груп»", "ТОВАРИСТВО З ОБМЕЖЕНОЮ ВІДПОВІДАЛЬНІСТЮ «КИЇВ МАРКЕТ ГРУП»", "UAH"),
    ("ПП «Карпатські Смаколики»", "ПРИВАТНЕ ПІДПРИЄМСТВО «КАРПАТСЬКІ СМАКОЛИКИ»", "UAH"),
    ("ТОВ «Дніпро Логістик»", "ТОВАРИСТВО З ОБМЕЖЕНОЮ ВІДПОВІДАЛЬНІСТЮ «ДНІПРО ЛОГІСТИК»", "UAH"),
    ("ТОВ «Одеса Тревел»", "ТОВАРИСТВО З ОБМЕЖЕНОЮ ВІДПОВІДАЛЬНІСТЮ «ОДЕСА ТРЕВЕЛ»", "UAH"),
    ("ТзОВ «Львівська Кава Онлайн»", "ТОВАРИСТВО З ОБМЕЖЕНОЮ ВІДПОВІДАЛЬНІСТЮ «ЛЬВІВСЬКА КАВА ОНЛАЙН»", "UAH"),
    ("ТОВ «Харків Ай Ті Солюшнз»", "ТОВАРИСТВО З ОБМЕЖЕНОЮ ВІДПОВІДАЛЬНІСТЮ «ХАРКІВ АЙ ТІ СОЛЮШНЗ»", "USD"),
    ("ТОВ «Полтава Агро Трейд»", "ТОВАРИСТВО З ОБМЕЖЕНОЮ ВІДПОВІДАЛЬНІСТЮ «ПОЛТАВА АГРО ТРЕЙД»", "UAH"),
    ("ТОВ «Вінниця Фарм»", "ТОВАРИСТВО З ОБМЕЖЕНОЮ ВІДПОВІДАЛЬНІСТЮ «ВІННИЦЯ ФАРМ»", "UAH"),
    ("ТОВ «Чернігів Медіа»", "ТОВАРИСТВО З ОБМЕЖЕНОЮ ВІДПОВІДАЛЬНІСТЮ «ЧЕРНІГІВ МЕДІА»", "EUR"),
]
_PRIVAT24_HEADER = [
    "ЄДРПОУ", "МФО", "Рахунок", "Валюта", "Номер документа", "Дата операції", "МФО банка", "Назва банка",
    "Рахунок кореспондента", "ЄДРПОУ кореспондента", "Кореспондент", "Сума", "Призначення платежу",
]
_BANKS = [("305299", "АТ КБ «ПРИВАТБАНК»"), ("322001", "АТ «УНІВЕРСАЛ БАНК»"), ("300465", "АТ «Ощадбанк»"), ("380805", "АТ «Райффайзен Банк»")]
OUR_EDRPOU = edrpou_with_check_digit("4312876")


@dataclass
class DemoOrganization:
    org_id: str
    name: str
    legal_name: str
    tax_id: str
    iban: str
    bank: tuple[str, str]
    currency: str


def organizations(rng: random.Random) -> list[DemoOrganization]:
    orgs = []
    for number, (name, legal, currency) in enumerate(_COMPANIES, start=1):
        bank = _BANKS[number % len(_BANKS)]
        account = f"{rng.randrange(10**18, 10**19):019d}"
        orgs.append(
            DemoOrganization(
                org_id=f"org-{number:04d}",
                name=name,
                legal_name=legal,
                tax_id=edrpou_with_check_digit(f"{rng.randrange(1_000_000, 9_999_999):07d}"),
                iban=make_iban("UA", bank[0] + account),
                bank=bank,
                currency=currency,
            )
        )
    return orgs


def write_demo_files(home: Path) -> dict[str, Path]:
    """Write the billing exports and the bank statements; returns their paths by kind."""
    rng = random.Random(20261120)
    orgs = organizations(rng)
    exports = home / "demo-exports"
    inbox = home / "inbox"
    exports.mkdir(parents=True, exist_ok=True)
    inbox.mkdir(parents=True, exist_ok=True)

    paths = {
        "organizations": exports / "organizations.csv",
        "invoices": exports / "invoices.csv",
        "card-payments": exports / "card_payments.csv",
        "usage": exports / "usage.csv",
        "subscriptions": exports / "subscriptions.csv",
    }
    _write_csv(
        paths["organizations"],
        ["org_id", "name", "legal_name", "tax_id", "ibans", "currency", "notify_emails"],
        [
            [o.org_id, o.name, o.legal_name, o.tax_id, o.iban, o.currency, f"billing@{o.org_id}.example.com;finance@{o.org_id}.example.com"]
            for o in orgs
        ],
    )

    invoices = []
    for index in range(30):
        org = orgs[index % len(orgs)]
        issued = DEMO_DAY - timedelta(days=rng.randrange(5, 25))
        amount = Decimal(rng.choice([1500, 2400, 3600, 4800, 7200, 12000, 18000])) + Decimal(rng.choice([0, 50, 99])) / 100
        invoices.append([f"2026-{index + 101:05d}", org.org_id, issued.isoformat(), (issued + timedelta(days=10)).isoformat(), org.currency, str(amount), "open"])
    _write_csv(paths["invoices"], ["invoice_number", "org_id", "issued_on", "due_on", "currency", "amount", "status"], invoices)

    usage = []
    for offset in range(14):
        day = DEMO_DAY - timedelta(days=offset)
        for org in orgs:
            for channel in rng.sample(CHANNELS, 3):
                quantity = rng.randrange(20, 600)
                price = {"sms": Decimal("0.92"), "viber": Decimal("0.55"), "whatsapp": Decimal("1.40")}.get(channel, Decimal("0.05"))
                usage.append([day.isoformat(), org.org_id, channel, quantity, org.currency, str((price * quantity).quantize(Decimal("0.01")))])
    _write_csv(paths["usage"], ["date", "org_id", "channel", "quantity", "currency", "amount"], usage)

    cards = []
    for index in range(6):
        org = orgs[(index * 3) % len(orgs)]
        paid = datetime.combine(DEMO_DAY - timedelta(days=index), time(10 + index, 15), tzinfo=timezone.utc)
        cards.append([f"pay-{index + 1:05d}", org.org_id, "liqpay" if index % 2 else "paypal", f"PSP{rng.randrange(10**9):09d}", paid.isoformat(), org.currency, f"{rng.choice([500, 1000, 2000])}.00"])
    _write_csv(paths["card-payments"], ["payment_id", "org_id", "provider", "provider_ref", "paid_at", "currency", "amount"], cards)

    # Plans ordered this month: each activates when the balance covers its fee. The last one's
    # organization has made no payment in the statement, so its plan waits.
    plans = [(orgs[0], "business", "2400.00"), (orgs[2], "start", "600.00"), (orgs[5], "business", "2400.00"),
             (orgs[9], "enterprise", "300.00"), (orgs[8], "enterprise", "99000.00")]
    _write_csv(
        paths["subscriptions"],
        ["org_id", "plan", "currency", "monthly_fee", "starts_on", "ends_on"],
        [[o.org_id, plan, o.currency, fee, "2026-11-16", ""] for o, plan, fee in plans],
    )

    # LiqPay's daily register proves the LiqPay top-ups it settled; the last one is deliberately
    # missing, so it is flagged once its business days run out.
    register = inbox / f"liqpay_register_{DEMO_DAY.isoformat()}.csv"
    _write_liqpay_register(register, [c for c in cards if c[2] == "liqpay"][:-1])

    statement = inbox / f"privat24_{DEMO_DAY.isoformat()}.csv"
    _write_statement(statement, orgs, invoices, rng)
    broken = inbox / "export_broken.csv"
    broken.write_bytes("Дата;Сума;Коментар\n20.11.2026;15,00;тестовий рядок без рахунку\n".encode("cp1251"))
    return {**paths, "statement": statement, "broken": broken, "register": register}


def _write_statement(path: Path, orgs: list[DemoOrganization], invoices: list[list], rng: random.Random) -> None:
    by_org = {o.org_id: o for o in orgs}
    rows = []
    doc = 4100

    def line(day: date, org: DemoOrganization | None, amount: Decimal, purpose: str, name: str | None = None, iban: str | None = None, tax: str | None = None, bank=None) -> None:
        nonlocal doc
        doc += rng.randrange(1, 9)
        bank = bank or (org.bank if org else _BANKS[0])
        rows.append([
            OUR_EDRPOU, "305299", OUR_IBAN, org.currency if org and org.currency != "UAH" else "UAH", str(doc), day.strftime("%d.%m.%Y"),
            bank[0], bank[1], iban or (org.iban if org else ""), tax if tax is not None else (org.tax_id if org else ""),
            name or (org.legal_name if org else ""), f"{amount:.2f}".replace(".", ","), purpose,
        ])

    phrases = [
        "Оплата за рахунком № {n} від {d}, у т.ч. ПДВ 20% - {vat} грн",
        "Оплата згідно рах. №{n} від {d} за послуги розсилок, ПДВ 20%",
        "Передплата за послуги SMS-розсилки, рахунок {n}, у т.ч. ПДВ",
        "Payment for invoice {n} dd {d}, messaging services",
        "Оплата по счету № {n} от {d} за услуги рассылки, в т.ч. НДС",
    ]
    for index, invoice in enumerate(invoices[:22]):
        number, org_id, issued, _, currency, amount, _ = invoice
        org = by_org[org_id]
        day = DEMO_DAY - timedelta(days=rng.randrange(0, 4))
        total = Decimal(amount)
        vat = (total / 6).quantize(Decimal("0.01"))
        text = phrases[index % len(phrases)].format(n=number, d=date.fromisoformat(issued).strftime("%d.%m.%Y"), vat=f"{vat:.2f}")
        line(day, org, total, text)
    # Paid with the tax ID only: the purpose names no invoice.
    line(DEMO_DAY - timedelta(days=1), orgs[3], Decimal("5000.00"), f"Поповнення балансу за договором № 17/2026, код ЄДРПОУ {orgs[3].tax_id}")
    # A conflict: another organization's invoice number, paid by a different company.
    line(DEMO_DAY, orgs[1], Decimal("3600.00"), f"Оплата за рахунком № {invoices[4][0]} від 10.11.2026")
    # Unknown payers and unclear purposes become exceptions.
    line(DEMO_DAY, None, Decimal("1250.00"), "Оплата за послуги згідно договору", name="ФОП Коваленко Ірина Петрівна",
         iban=make_iban("UA", "322001" + "0000026203300099123"), tax="3012409876")
    line(DEMO_DAY - timedelta(days=2), None, Decimal("780.00"), "Поповнення рахунку", name="ТОВ «Невідома Компанія»",
         iban=make_iban("UA", "300465" + "0000026001234567890"), tax=edrpou_with_check_digit("3999111"))
    # Unidentified for weeks: it sits in suspense and is flagged as a delay.
    line(DEMO_DAY - timedelta(days=12), None, Decimal("2000.00"), "Оплата згідно договору 5/25", name="ФОП Мельник Олег Іванович",
         iban=make_iban("UA", "305299" + "0000026209876543210"), tax="2987654321")
    # Money leaving our account is not matched: a bank fee and a supplier payment.
    line(DEMO_DAY, None, Decimal("-45.00"), "Комісія банку за розрахунково-касове обслуговування", name="АТ КБ «ПРИВАТБАНК»", iban="", tax="14360570")
    line(DEMO_DAY - timedelta(days=1), None, Decimal("-12000.00"), "Оплата за хостинг згідно рах. № INV-88812", name="ТОВ «Хмарні Сервери»",
         iban=make_iban("UA", "380805" + "0000026003300012345"), tax=edrpou_with_check_digit("4011223"))
    # A row the bank garbled: its amount is not a number, so the contract quarantines it.
    line(DEMO_DAY, orgs[5], Decimal("0"), "Оплата за рахунком № 2026-00199")
    rows[-1][11] = "12O0,00"
    rows.sort(key=lambda r: (r[5][6:] + r[5][3:5] + r[5][:2], r[4]))
    with open(path, "w", encoding="cp1251", newline="") as handle:
        writer = csv.writer(handle, delimiter=";", lineterminator="\r\n")
        writer.writerow(_PRIVAT24_HEADER)
        writer.writerows(rows)


def _write_liqpay_register(path: Path, cards: list[list]) -> None:
    """LiqPay's register (documented report fields), `;`-separated, decimal commas, times in ms."""
    header = ["payment_id", "order_id", "liqpay_order_id", "status", "action", "type", "paytype", "amount", "currency",
              "sender_commission", "receiver_commission", "agent_commission", "amount_credit", "currency_credit",
              "commission_credit", "create_date", "end_date", "description", "sender_card_mask2", "public_key"]
    rows = []
    for payment_id, org_id, _, provider_ref, paid_at, currency, amount in cards:
        fee = (Decimal(amount) * Decimal("0.015")).quantize(Decimal("0.01"))
        millis = int(datetime.fromisoformat(paid_at).timestamp() * 1000)
        comma = lambda d: f"{Decimal(d):.2f}".replace(".", ",")  # noqa: E731
        rows.append([provider_ref, payment_id, f"LQ{provider_ref[3:]}", "success", "pay", "buy", "card", comma(amount), currency,
                     "0,00", comma(fee), "0,00", comma(amount), currency, comma(fee), millis, millis + 9000,
                     f"Поповнення балансу {org_id}", "414962*29", "i48213570921"])
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";", lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(rows)


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def run_demo(settings: Settings | None = None) -> str:
    """Build the demo workspace, import the exports, run the nightly flow; return the summary text."""
    from sqlalchemy import func, select

    from flows.nightly import nightly
    from ledger import schema
    from payrecon.deployments import ensure_concurrency_limits
    from payrecon.services.imports import IMPORT_ORDER, import_export
    from payrecon.workspace import Workspace

    workspace = Workspace(settings or Settings.from_env())
    paths = write_demo_files(workspace.settings.home)
    imported = [
        import_export(workspace.engine, workspace.raw_store, kind, paths[kind]).line()
        for kind in IMPORT_ORDER
    ]
    ensure_concurrency_limits()
    result = nightly(as_of=DEMO_DAY)
    j, p = schema.journal_entries, schema.postings
    with workspace.engine.connect() as conn:
        totals = conn.execute(
            select(p.c.currency, func.count(), func.sum(p.c.amount))
            .join(j, j.c.entry_id == p.c.entry_id)
            .where(j.c.kind == "credit", p.c.account.like("bank:%"))
            .group_by(p.c.currency)
        ).all()
        lines = conn.execute(select(func.count()).select_from(schema.normalized_lines)).scalar_one()
        files = conn.execute(select(schema.raw_files.c.status, func.count()).group_by(schema.raw_files.c.status)).all()
    credit_text = ", ".join(f"{n} totalling {total.quantize(Decimal('0.01'))} {cur}" for cur, n, total in totals) or "none"
    return "\n".join(
        [
            f"payrecon demo workspace: {workspace.settings.home}",
            *[f"  import {line}" for line in imported],
            f"nightly run for {result['as_of']}:",
            *[f"  {line}" for line in result["files"]],
            f"  new credits this run: {result['credits']}; waiting for review: {result['reviews']}; "
            f"exceptions opened: {result['exceptions']}; "
            f"plan fees debited: {result['subscription_fees']}",
            f"ledger: raw files {dict((s, n) for s, n in files)}; statement and provider lines {lines}; bank credits {credit_text}",
            f"reports (Parquet): {result['reports']}",
        ]
    )

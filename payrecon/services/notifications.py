"""Telling people, once: a billing notification to an organization's addresses when a top-up is
credited (with the amount and the new balance), and one alert digest to finance listing what was
newly flagged (quarantined files and rows, integrity failures, late money).

Exactly once: each message has a key ("topup:<entry_id>", "flag:<ref>") under the notifications
table's primary key. The key is claimed (status `sending`) before the message goes out and marked
`sent` after, so a re-run or a concurrent run never sends it twice. A failed send is marked
`failed` with the error and retried on the next run. A crash between claiming and sending leaves
`sending`: finance sees it in the table rather than a customer getting the message twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from email.message import EmailMessage
from typing import Iterator

from sqlalchemy import Engine, and_, exists, func, select, tuple_, update

from ledger import schema
from ledger.domain import customer_account
from ledger.types import money_text
from ledger.repository import existing_keys, insert_new_keys
from payrecon.business_calendar import BusinessCalendar
from payrecon.mail import Mailer
from payrecon.reports import views


@dataclass(frozen=True)
class Flag:
    key: str
    source: str
    reason: str


@dataclass
class FlagChanges:
    raised: list[Flag] = field(default_factory=list)
    escalated: list[Flag] = field(default_factory=list)
    cleared: list[Flag] = field(default_factory=list)


def update_flags(engine: Engine, current: list[Flag], as_of: date, calendar: BusinessCalendar, escalate_days: int = 2) -> FlagChanges:
    """The flags' life: a new flag is raised once; an open one is escalated once when it has stayed
    open longer than `escalate_days` business days; one that is no longer there is cleared (and
    raised again should it come back)."""
    changes = FlagChanges()
    f = schema.flags
    stamp = datetime.now(timezone.utc)
    by_key = {flag.key: flag for flag in current}
    with engine.begin() as conn:
        known = {r.flag_key: r for r in conn.execute(select(f)).all()}
        fresh = [flag for key, flag in by_key.items() if key not in known]
        # A concurrent run may change the same flags: each change counts for the run whose write
        # made it (the insert that added the key, the update that still found the old state).
        mine = {key for (key,) in insert_new_keys(conn, f, [
            {"flag_key": flag.key, "source": flag.source, "reason": flag.reason, "status": "open", "raised_at": stamp, "raised_on": as_of}
            for flag in fresh
        ])}
        changes.raised.extend(flag for flag in fresh if flag.key in mine)
        for key, row in known.items():
            flag = by_key.get(key)
            if flag is None and row.status == "open":
                if conn.execute(update(f).where(f.c.flag_key == key, f.c.status == "open").values(status="cleared", cleared_at=stamp)).rowcount:
                    changes.cleared.append(Flag(key, row.source, row.reason))
            elif flag is not None and row.status == "cleared":
                if conn.execute(update(f).where(f.c.flag_key == key, f.c.status == "cleared").values(
                        status="open", reason=flag.reason, raised_at=stamp, raised_on=as_of, escalated_at=None, cleared_at=None)).rowcount:
                    changes.raised.append(flag)
            elif flag is not None and row.escalated_at is None and calendar.business_days_between(row.raised_on, as_of) > escalate_days:
                if conn.execute(update(f).where(f.c.flag_key == key, f.c.escalated_at.is_(None)).values(escalated_at=stamp, reason=flag.reason)).rowcount:
                    changes.escalated.append(flag)
    return changes


@dataclass
class NotificationSummary:
    topups_sent: int = 0
    alerts_sent: int = 0
    failed: int = 0
    pending_without_smtp: int = 0
    new_flags: list[Flag] = field(default_factory=list)
    escalated: list[Flag] = field(default_factory=list)


_LATE = {
    "suspense": ("unidentified money", "unmatched"),
    "card_settlement": ("card payment", "not settled by the provider"),
    "paypal_settlement": ("PayPal payment", "not settled by PayPal"),
    "payout": ("provider payout", "not received on a bank statement"),
    "receipt": ("receipt emailed to sales", "credited provisionally, no bank line confirmed it"),
}


def current_flags(engine: Engine, as_of: date, calendar: BusinessCalendar, suspense_days: int = 3,
                  settlement_days: int = 2, payout_days: int = 3, receipt_days: int = 3) -> list[Flag]:
    from payrecon.services.reports import current_delays

    with engine.connect() as conn:
        flagged = views.flagged(conn)
    late = current_delays(engine, as_of, calendar, suspense_days, settlement_days, payout_days, receipt_days=receipt_days)
    flags = [Flag(f"flag:{r.ref}", r.source, r.reason) for r in flagged.itertuples()]
    flags += [
        Flag(f"flag:delay/{r.kind}/{r.ref}", _LATE[r.kind][0],
             f"{r.ref}: {money_text(r.amount)} {r.currency} {_LATE[r.kind][1]} for {r.age_business_days} business days (allowed until {r.expected_by})")
        for r in late.itertuples()
    ]
    return flags


def receipt_events(engine: Engine) -> list[Flag]:
    """One-off alerts (not flags with a life): each reversed receipt credit, told to finance once."""
    from payrecon.services.receipts import reversal_alerts

    return [Flag(key, source, reason) for key, source, reason in reversal_alerts(engine)]


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):,}".replace(",", " ")


#: credits read (and messages built) at a time: memory stays bounded however many are waiting
TOPUP_CHUNK = 2000


def _topup_credits():
    """The credits that earn a billing notification (one row per posting to the customer's account),
    without those already notified (claimed, sent or failed: a failed one is released before)."""
    j, p, o, n = schema.journal_entries, schema.postings, schema.organizations, schema.notifications
    return (
        select(j.c.entry_id, j.c.org_id, j.c.effective_date, p.c.currency, p.c.amount, o.c.name, o.c.notify_emails)
        .join(p, and_(p.c.entry_id == j.c.entry_id, p.c.account == "customer:" + j.c.org_id))
        .join(o, o.c.org_id == j.c.org_id)
        # a receipt's provisional credit tops the balance up too (its confirmation does not, again)
        .where(j.c.kind.in_(["credit", "card", "receipt"]), j.c.status != "reversed", o.c.notify_emails.is_not(None))
        .where(~exists().where(n.c.notification_key == "topup:" + j.c.entry_id))
    )


def pending_topups(engine: Engine) -> int:
    """How many billing notifications wait to be sent (counted by the database, nothing built)."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(_topup_credits().subquery())).scalar_one())


def topup_messages(engine: Engine, chunk: int = TOPUP_CHUNK) -> Iterator[tuple[str, EmailMessage]]:
    """Billing notifications not yet sent: one per credit to an organization with addresses, in
    booking order. A generator: `chunk` credits are read at a time (by key, so messages claimed
    meanwhile change nothing), each message is built only when it is taken, and the new balance is
    the organization's balance when its chunk is read."""
    j, p = schema.journal_entries, schema.postings
    after: tuple | None = None
    while True:
        with engine.connect() as conn:
            query = _topup_credits().order_by(j.c.effective_date, j.c.entry_id).limit(chunk)
            if after is not None:
                query = query.where(tuple_(j.c.effective_date, j.c.entry_id) > tuple_(*after))
            credits = conn.execute(query).all()
            if not credits:
                return
            orgs = sorted({c.org_id for c in credits})
            balances = {
                (org, cur): -total
                for org, cur, total in conn.execute(
                    select(j.c.org_id, p.c.currency, func.sum(p.c.amount))
                    .join(j, j.c.entry_id == p.c.entry_id)
                    .where(p.c.account.in_([customer_account(org) for org in orgs]), p.c.account == "customer:" + j.c.org_id)
                    .group_by(j.c.org_id, p.c.currency)
                ).all()
            }
        for c in credits:
            yield f"topup:{c.entry_id}", topup_message(c, balances.get((c.org_id, c.currency), Decimal(0)))
        after = (credits[-1].effective_date, credits[-1].entry_id)
        if len(credits) < chunk:
            return


def topup_message(credit, balance: Decimal) -> EmailMessage:
    c, amount = credit, -credit.amount
    message = EmailMessage()
    message["To"] = ", ".join(c.notify_emails.split(";"))
    message["Subject"] = f"Баланс поповнено на {_money(amount)} {c.currency} / Balance topped up"
    message.set_content(
        f"Шановний клієнте {c.name},\n\n"
        f"ваш баланс поповнено на {_money(amount)} {c.currency} ({c.effective_date:%d.%m.%Y}).\n"
        f"Поточний баланс: {_money(balance)} {c.currency}.\n\n"
        f"Your balance was topped up with {_money(amount)} {c.currency} on {c.effective_date.isoformat()}.\n"
        f"Current balance: {_money(balance)} {c.currency}.\n"
    )
    return message


def alert_message(flags: list[Flag], finance: tuple[str, ...], escalated: list[Flag] = ()) -> EmailMessage:
    message = EmailMessage()
    message["To"] = ", ".join(finance)
    count = len(flags) + len(escalated)
    message["Subject"] = f"payrecon: {count} item{'s' if count != 1 else ''} need finance's attention" + (" (escalated)" if escalated else "")
    parts = []
    if flags:
        parts.append("New since the last alert:\n\n" + "\n".join(f"- {f.source}: {f.reason}" for f in flags))
    if escalated:
        parts.append("Still open, escalated:\n\n" + "\n".join(f"- {f.source}: {f.reason}" for f in escalated))
    message.set_content("\n\n".join(parts) + "\n\nThe exceptions and delays datasets list everything still open.\n")
    return message


def _claim(engine: Engine, keys: list[str], kind: str, message: EmailMessage) -> list[str]:
    """Claim keys for a message; returns the keys this run won (another run may hold the rest)."""
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        # The keys this insert added, not a look-up before it: a concurrent run claiming the same
        # key waits for this one and gets nothing.
        won = {key for (key,) in insert_new_keys(conn, schema.notifications, [
            {"notification_key": k, "kind": kind, "recipients": message["To"], "subject": message["Subject"],
             "status": "sending", "created_at": now} for k in keys
        ])}
    return [k for k in keys if k in won]


def _finish(engine: Engine, keys: list[str], error: str | None) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(schema.notifications)
            .where(schema.notifications.c.notification_key.in_(keys))
            .values(status="failed" if error else "sent", error=error, sent_at=None if error else datetime.now(timezone.utc))
        )


def _retryable(engine: Engine) -> None:
    """Failed sends are released so this run tries them again."""
    with engine.begin() as conn:
        conn.execute(schema.notifications.delete().where(schema.notifications.c.status == "failed"))


def send_notifications(engine: Engine, mailer: Mailer | None, finance: tuple[str, ...], flags: list[Flag],
                       escalated: list[Flag] = ()) -> NotificationSummary:
    """Top-up notifications not sent yet, and one digest of the open flags finance was not alerted
    about (and of escalations not yet sent)."""
    summary = NotificationSummary()
    _retryable(engine)
    with engine.connect() as conn:
        done = existing_keys(conn, schema.notifications.c.notification_key,
                             [f.key for f in flags] + [f"escalation:{f.key}" for f in escalated])
    summary.new_flags = [f for f in flags if f.key not in done]
    summary.escalated = [f for f in escalated if f"escalation:{f.key}" not in done]
    alerting = bool((summary.new_flags or summary.escalated) and finance)
    if mailer is None:
        summary.pending_without_smtp = pending_topups(engine) + (1 if alerting else 0)
        return summary
    for key, message in topup_messages(engine):
        if not _claim(engine, [key], "topup", message):
            continue
        summary.topups_sent += _deliver(engine, mailer, [key], message, summary)
    if alerting:
        keys = [f.key for f in summary.new_flags] + [f"escalation:{f.key}" for f in summary.escalated]
        mine = set(_claim(engine, keys, "alert", alert_message(summary.new_flags, finance, summary.escalated)))
        if mine:
            message = alert_message([f for f in summary.new_flags if f.key in mine], finance,
                                    [f for f in summary.escalated if f"escalation:{f.key}" in mine])
            summary.alerts_sent += _deliver(engine, mailer, sorted(mine), message, summary)
    return summary


def _deliver(engine: Engine, mailer: Mailer, keys: list[str], message: EmailMessage, summary: NotificationSummary) -> int:
    try:
        mailer.send(message)
    except Exception as exc:  # noqa: BLE001 - any SMTP or network failure is recorded and retried
        _finish(engine, keys, f"{type(exc).__name__}: {exc}")
        summary.failed += 1
        return 0
    _finish(engine, keys, None)
    return 1

"""The columnar builders of ledger/domain.py (`Transfers`) make exactly the entries the singular
domain functions make: the same keys, entry ids, kinds, organizations, dates, evidence,
descriptions, postings and amounts, on generated data; and they refuse what those refuse."""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest

from ledger import domain
from ledger.domain import Transfers, UnbalancedEntry

TEXTS = ["", "a", "ТОВ «Ромашка»", 'tab\there "quoted", comma', "new\nline\\back", "Оплата № 2026-00123", "x" * 150, "émoji 💸"]


def _text(rng: random.Random) -> str:
    return rng.choice(TEXTS) + str(rng.randrange(10**6))


def _amount(rng: random.Random, positive: bool = False) -> Decimal:
    value = Decimal(rng.randrange(1, 10**12)).scaleb(-rng.choice([0, 1, 2, 3, 4]))
    if rng.random() < 0.1:
        value = Decimal(rng.randrange(1, 10**6)).scaleb(rng.choice([1, 3]))  # exponent notation: 1.2E+4
    if rng.random() < 0.1:
        value = value.quantize(Decimal("0.0001"))  # trailing zeros
    return value if positive or rng.random() < 0.5 else -value


def _day(rng: random.Random) -> date:
    return date(2026, 1, 1) + timedelta(days=rng.randrange(800))


def _same(plural: Transfers, singular: list[domain.JournalEntry]) -> None:
    built = plural.entries()
    assert built == singular  # keys, kinds, status, organizations, dates, evidence, descriptions, postings
    assert [e.entry_id for e in built] == [e.entry_id for e in singular] == domain.entry_ids(plural.idempotency_key)
    for entry in singular:  # and the postings, leg by leg, are those of the columns
        assert all(isinstance(p.amount, Decimal) for p in entry.postings)
    assert [(p.account, p.currency, p.amount) for e in singular for p in e.postings] == [
        leg for d, c, k, a in zip(plural.debit, plural.credit, plural.currency, plural.amount) for leg in ((d, k, a), (c, k, -a))
    ]
    assert all(e.status == "confirmed" for e in singular)


@pytest.mark.parametrize("seed", range(5))
def test_plural_builders_make_the_singular_entries(seed):
    rng = random.Random(seed)
    n = 300
    ids = [f"{_text(rng)}-{i}" for i in range(n)]
    orgs = [f"org-{rng.randrange(10**5):06d}" for _ in range(n)]
    currencies = [rng.choice(["UAH", "USD", "EUR"]) for _ in range(n)]
    providers = [rng.choice(["adyen", "paypal", "stripe", "liqpay"]) for _ in range(n)]
    days = [_day(rng) for _ in range(n)]
    texts = [_text(rng) for _ in range(n)]
    accounts = [f"UA{rng.randrange(10**27):027d}" for _ in range(n)]
    positive = [_amount(rng, positive=True) for _ in range(n)]
    signed = [_amount(rng) for _ in range(n)]

    _same(domain.bank_credits(line_id=ids, org_id=orgs, account=accounts, currency=currencies, amount=positive, booked_on=days,
                              description=texts),
          [domain.bank_credit(line_id=i, org_id=o, account=a, currency=c, amount=m, booked_on=d, description=t)
           for i, o, a, c, m, d, t in zip(ids, orgs, accounts, currencies, positive, days, texts)])
    _same(domain.card_credits(payment_id=ids, org_id=orgs, provider=providers, currency=currencies, amount=signed, paid_on=days),
          [domain.card_credit(payment_id=i, org_id=o, provider=p, currency=c, amount=m, paid_on=d)
           for i, o, p, c, m, d in zip(ids, orgs, providers, currencies, signed, days)])
    channels = [rng.choice(["email", "sms", "viber", "whatsapp", _text(rng)]) for _ in range(n)]
    _same(domain.usage_debits(day=days, org_id=orgs, channel=channels, currency=currencies, amount=signed),
          [domain.usage_debit(day=d, org_id=o, channel=ch, currency=c, amount=m)
           for d, o, ch, c, m in zip(days, orgs, channels, currencies, signed)])
    _same(domain.provider_fees(line_id=ids, provider=providers, currency=currencies, amount=signed, booked_on=days, description=texts),
          [domain.provider_fee(line_id=i, provider=p, currency=c, amount=m, booked_on=d, description=t)
           for i, p, c, m, d, t in zip(ids, providers, currencies, signed, days, texts)])
    kinds = [rng.choice(["chargeback", "refund"]) for _ in range(n)]
    _same(domain.chargebacks(line_id=ids, org_id=orgs, provider=providers, currency=currencies, amount=signed, booked_on=days,
                             description=texts, kind=kinds),
          [domain.chargeback(line_id=i, org_id=o, provider=p, currency=c, amount=m, booked_on=d, description=t, kind=k)
           for i, o, p, c, m, d, t, k in zip(ids, orgs, providers, currencies, signed, days, texts, kinds)])
    banks = [f"bank-{i}" for i in ids]
    _same(domain.payouts_received(payout_line_id=ids, bank_line_id=banks, provider=providers, account=accounts, currency=currencies,
                                  amount=positive, booked_on=days),
          [domain.payout_received(payout_line_id=i, bank_line_id=b, provider=p, account=a, currency=c, amount=m, booked_on=d)
           for i, b, p, a, c, m, d in zip(ids, banks, providers, accounts, currencies, positive, days)])


def test_entry_ids_are_uuid5_of_the_key():
    rng = random.Random(7)
    keys = [_text(rng) for _ in range(2000)] + ["", "credit:card_payment:card-2026-00000001"]
    namespace = uuid.UUID("6f1c1b7e-3a7e-4d3e-9a57-70617972636f")
    assert domain.entry_ids(keys) == [str(uuid.uuid5(namespace, k)) for k in keys]


def test_plural_builders_refuse_what_the_singular_ones_refuse():
    day = date(2026, 11, 20)
    with pytest.raises(ValueError, match="positive amount"):
        domain.bank_credits(line_id=["l"], org_id=["o"], account=["a"], currency=["UAH"], amount=[Decimal("0")], booked_on=[day],
                            description=[""])
    with pytest.raises(TypeError, match="Decimal"):
        domain.card_credits(payment_id=["p"], org_id=["o"], provider=["adyen"], currency=["EUR"], amount=[1.5], paid_on=[day])  # float-ok: the refusal under test
    with pytest.raises(TypeError, match="Decimal"):
        domain.provider_fees(line_id=["l"], provider=["adyen"], currency=["EUR"], amount=[2.5], booked_on=[day], description=[""])  # float-ok: the refusal under test
    with pytest.raises(UnbalancedEntry):
        domain.usage_debits(day=[day], org_id=["o"], channel=["sms"], currency=["UAH"], amount=[Decimal("NaN")])
    with pytest.raises(ValueError, match="values"):
        Transfers(["k"], [], [], [], [], [], [], [], [], [])


def test_concat_and_empty():
    day = date(2026, 11, 20)
    one = domain.usage_debits(day=[day], org_id=["o"], channel=["sms"], currency=["UAH"], amount=[Decimal("1")])
    two = domain.usage_debits(day=[day], org_id=["p"], channel=["sms"], currency=["UAH"], amount=[Decimal("2")])
    assert Transfers.concat([one, Transfers.empty(), two]).entries() == one.entries() + two.entries()
    assert len(Transfers.empty()) == 0

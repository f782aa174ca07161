"""Three-way reconciliation of card and PayPal money: the platform's payments, the provider's
settlement rows, the provider's payouts, and the bank lines that received them.

Plain functions over DataFrames (money as Decimal objects; joined on exact decimal keys):
- a platform payment is settled by the provider's settlement row that carries its reference (the
  provider's transaction id, or our merchant reference) in the same currency and amount;
- a payout reaches the bank as an incoming bank line of the same currency and amount, from the
  provider (its name in the payer or the purpose), booked within a window after the payout.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

#: how each provider's name appears on a bank statement
PROVIDER_NAMES = {
    "paypal": ("PAYPAL",),
    "stripe": ("STRIPE",),
    "adyen": ("ADYEN",),
    "liqpay": ("LIQPAY", "ЛІКПЕЙ"),
}
SOURCE_PROVIDER = {"paypal_stl": "paypal", "paypal_activity": "paypal", "stripe": "stripe", "adyen_sdr": "adyen", "liqpay": "liqpay"}
_Q = Decimal("0.0001")
#: days after a payout within which its bank line may be booked
PAYOUT_WINDOW_DAYS = 7


def amount_key(amounts: pd.Series) -> pd.Series:
    """An exact, joinable text form of decimal amounts (1500.5 and 1500.50 agree)."""
    return amounts.map(lambda a: format(abs(a).quantize(_Q), "f"))


def link_payments(payments: pd.DataFrame, settlements: pd.DataFrame) -> pd.DataFrame:
    """payment_id -> settlement line_id, one to one.

    payments: payment_id, provider, provider_ref, currency, amount. settlements: line_id,
    record_type, source_format, bank_ref, end_to_end_id, currency, amount.
    """
    columns = ["payment_id", "line_id"]
    gross = settlements[settlements["record_type"] == "settlement"]
    if payments.empty or gross.empty:
        return pd.DataFrame(columns=columns)
    gross = gross.assign(provider=gross["source_format"].map(SOURCE_PROVIDER), key=amount_key(gross["amount"]))
    pay = payments.assign(key=amount_key(payments["amount"]))
    found = []
    # The provider's own transaction id first, then our merchant reference, then our payment id.
    for pay_column, row_column in (("provider_ref", "bank_ref"), ("provider_ref", "end_to_end_id"), ("payment_id", "end_to_end_id")):
        found.append(
            pay.dropna(subset=[pay_column]).merge(
                gross.dropna(subset=[row_column]),
                left_on=[pay_column, "provider", "currency", "key"],
                right_on=[row_column, "provider", "currency", "key"],
                suffixes=("", "_row"),
            )[columns]
        )
    links = pd.concat(found, ignore_index=True)
    links = links.drop_duplicates("payment_id", keep="first").drop_duplicates("line_id", keep="first")
    return links.reset_index(drop=True)


def payouts(settlements: pd.DataFrame) -> pd.DataFrame:
    """The provider payouts: line_id, provider, currency, amount (positive: what the bank receives),
    booking_date."""
    rows = settlements[settlements["record_type"] == "payout"]
    return pd.DataFrame(
        {
            "line_id": rows["line_id"],
            "provider": rows["source_format"].map(SOURCE_PROVIDER),
            "currency": rows["currency"],
            "amount": rows["amount"].map(lambda a: -a),
            "booking_date": rows["booking_date"],
        }
    ).reset_index(drop=True)


def link_payouts(payout_rows: pd.DataFrame, bank_lines: pd.DataFrame, window_days: int = PAYOUT_WINDOW_DAYS) -> pd.DataFrame:
    """payout line_id -> bank line_id, one to one, the earliest fitting bank line first.

    bank_lines: line_id, booking_date, currency, amount, counterparty_name, remittance (incoming,
    not yet decided).
    """
    columns = ["payout_line_id", "bank_line_id"]
    if payout_rows.empty or bank_lines.empty:
        return pd.DataFrame(columns=columns)
    incoming = bank_lines[bank_lines["amount"].map(lambda a: a > 0)]
    text = (incoming["counterparty_name"].fillna("") + " " + incoming["remittance"].fillna("")).str.upper()
    provider = pd.Series(None, index=incoming.index, dtype="object")
    for name, marks in PROVIDER_NAMES.items():
        provider = provider.mask(provider.isna() & text.str.contains("|".join(marks), regex=True), name)
    incoming = incoming.assign(provider=provider, key=amount_key(incoming["amount"])).dropna(subset=["provider"])
    candidates = payout_rows.assign(key=amount_key(payout_rows["amount"])).merge(
        incoming, on=["provider", "currency", "key"], suffixes=("", "_bank")
    )
    delay = (pd.to_datetime(candidates["booking_date_bank"]) - pd.to_datetime(candidates["booking_date"])).dt.days
    candidates = candidates[(delay >= 0) & (delay <= window_days)].assign(delay=delay)
    candidates = candidates.sort_values(["booking_date", "line_id", "delay", "line_id_bank"])
    chosen, used = [], set()
    for payout_id, group in candidates.groupby("line_id", sort=False):
        for bank_id in group["line_id_bank"]:
            if bank_id not in used:
                used.add(bank_id)
                chosen.append((payout_id, bank_id))
                break
    return pd.DataFrame(chosen, columns=columns)

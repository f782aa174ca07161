"""Decisions: one payment goes to one organization or to none, and never on a conflict.

Per payment the candidates are ranked by confidence (then org_id, so ties never depend on input
order). The best one is credited when its confidence reaches the auto-credit threshold and nothing
below holds; otherwise the payment waits for a person with the top three candidates (review), or,
below the review threshold, becomes an exception that still carries them.

Conflicts always go to review, whatever the confidence, each with its reason:
- two organizations each have identifying evidence (an invoice of one, the tax ID of another);
- a private person pays for a company it is not known to pay for;
- the payment's currency is not the organization's balance currency;
- the payment names an invoice already paid, or several payments name one invoice and together
  pay more than it asks (two payments claiming one invoice);
- the text reads like bank interest, a refund or a return, not a customer top-up;
- the runner-up is within `min_margin` of the best.
"""

from __future__ import annotations

import json
from string import Formatter
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from reconcilers.amounts import AmountFit
from reconcilers.candidates import SHARED, Evidence
from reconcilers.master import Master
from reconcilers.money import fee_tolerance
from reconcilers.plan import IDENTIFYING_KINDS, MatchPlan
from reconcilers.texts import join_grouped, money_text, quoted, render

UNRELATED = (
    r"ВІДСОТК[А-ЯІЇЄҐ]*\s+(НА|ЗА)\s|НАРАХУВАННЯ\s+ВІДСОТК|ПРОЦЕНТ[А-Я]*\s+(НА|ЗА)\s+(ОСТАТ|ЗАЛИШ)|INTEREST|"
    r"КАПІТАЛІЗАЦ|ПОВЕРНЕН|ПОВЕРНУТ|ВОЗВРАТ|ВОЗВРАЩ|REFUND|RETURN|CHARGEBACK|КЕШБЕК|CASHBACK|СТОРНО"
)


@dataclass(frozen=True)
class Decided:
    #: line, pair (-1 when none), status, org (-1 unless matched), rule, confidence (thousandths),
    #: reason, suggestions (JSON), invoices (named or to be settled by the best candidate)
    frame: pd.DataFrame


def _score(thousandths) -> str:
    """A score in thousandths as the Decimal text a person reads: 950 -> '0.950'."""
    return str(Decimal(int(thousandths)).scaleb(-3))


def _take(values: np.ndarray, rows: np.ndarray, fill) -> np.ndarray:
    """values[rows], with `fill` where a row is -1 (a payment without candidates)."""
    out = np.full(len(rows), fill, dtype=values.dtype if values.dtype != bool or isinstance(fill, bool) else object)
    ok = rows >= 0
    out[ok] = values[rows[ok]]
    return out


def _row_of_rank(pairs: pd.DataFrame, rank: int, n: int) -> np.ndarray:
    """Per line, the row of its candidate of this rank, or -1."""
    rows = np.flatnonzero(pairs["rank"].to_numpy() == rank)
    out = np.full(n, -1, dtype=np.int64)
    out[pairs["line"].to_numpy()[rows]] = rows
    return out


def _join_per_pair(pair: np.ndarray, numbers: np.ndarray) -> pd.Series:
    return join_grouped(pair, numbers)


def _unrelated(remittance: pd.Series) -> np.ndarray:
    texts = pa.array(remittance.to_numpy(dtype=object), type=pa.string(), from_pandas=True).fill_null("")
    return pc.match_substring_regex(pc.utf8_upper(texts), UNRELATED).to_numpy(zero_copy_only=False)


def decide(payments: pd.DataFrame, master: Master, evidence: Evidence, fit: AmountFit,
           confidence: np.ndarray, rule_index: np.ndarray, plan: MatchPlan) -> Decided:
    pairs = evidence.pairs.assign(confidence=confidence, rule=rule_index)
    fits = fit.pairs
    pairs["fit"] = fits["fit"].to_numpy()
    pairs["expected"] = fits["expected"].to_numpy()
    pairs["claims_paid"] = fits["claims_paid"].to_numpy()
    pairs = pairs[pairs["rule"] >= 0]
    order = np.lexsort((pairs["org"].to_numpy(), -pairs["confidence"].to_numpy(), pairs["line"].to_numpy()))
    pairs = pairs.iloc[order].reset_index(drop=True)
    pairs["rank"] = pairs.groupby("line").cumcount().to_numpy()

    numbers = master.invoices["invoice_number"].to_numpy(dtype=object)
    settles = fit.settles.sort_values(["pair", "rank"], kind="stable")
    pair_invoices = _join_per_pair(settles["pair"].to_numpy(), numbers[settles["inv"].to_numpy()])
    named = evidence.refs.merge(evidence.pairs[["pair", "line", "org"]], on=["line", "org"]).sort_values(["pair", "inv"])
    named_invoices = _join_per_pair(named["pair"].to_numpy(), numbers[named["inv"].to_numpy()])
    fields = _Fields(pairs, payments, master, named_invoices, pair_invoices)
    rules = plan.ranked_rules()

    n = len(payments)
    best_row = _row_of_rank(pairs, 0, n)
    second_row = _row_of_rank(pairs, 1, n)
    frame = pd.DataFrame({"line": np.arange(n)})
    frame["pair"] = _take(pairs["pair"].to_numpy(), best_row, -1)
    has = best_row >= 0
    conf = _take(pairs["confidence"].to_numpy(), best_row, 0)
    org = _take(pairs["org"].to_numpy(), best_row, -1)
    considered = has & (conf >= int(plan.review_threshold * 1000))  # an amount-only hint is no conflict
    rule_name = np.full(n, "no_evidence", dtype=object)
    rule_name[has] = np.array([r.name for r in rules], dtype=object)[pairs["rule"].to_numpy()[best_row[has]]]
    reason = np.full(n, "no invoice number, tax ID, known account or name of a customer in the payment", dtype=object)
    reason[has] = _pair_reasons(pairs, best_row[has], fields, rules)
    conflict = np.full(n, "", dtype=object)  # the conflict's rule name
    conflict_reason = np.full(n, "", dtype=object)

    def flag(mask: np.ndarray, name: str, texts) -> None:
        todo = mask & (conflict == "")
        if todo.any():
            conflict[todo] = name
            conflict_reason[todo] = texts(np.flatnonzero(todo)) if callable(texts) else texts

    org_names = master.orgs["display"].to_numpy(dtype=object)
    org_ids = master.orgs["org_id"].to_numpy(dtype=object)

    # 1. Two organizations with identifying evidence.
    identifying = pairs[list(IDENTIFYING_KINDS)].to_numpy().any(axis=1)
    per_line = np.bincount(pairs["line"].to_numpy()[identifying], minlength=n)
    ident_rows: dict[int, list[int]] = {}
    for row in np.flatnonzero(identifying & (per_line[pairs["line"].to_numpy()] >= 2)):
        ident_rows.setdefault(int(pairs["line"].to_numpy()[row]), []).append(int(row))

    def clash(lines: np.ndarray) -> np.ndarray:
        return np.array([f"{_identity(pairs, ident_rows[l][0], fields)}, but {_identity(pairs, ident_rows[l][1], fields)}"
                         for l in lines], dtype=object)

    flag(per_line >= 2, "conflict", clash)

    # 2. Unrelated credits: interest, refunds, returns.
    unrelated = _unrelated(payments["remittance"])
    flag(unrelated & considered, "unrelated_credit",
         lambda rows: np.array([f"the text reads like bank interest, a refund or a return, not a customer top-up; {r}"
                                for r in reason[rows]], dtype=object))

    # 3. A private person paying for a company.
    payer_known = _take(pairs[["tax_id", "iban", "name"]].to_numpy().any(axis=1), best_row, False) | (
        _take(pairs["shared_bits"].to_numpy(), best_row, 0) & (SHARED["tax ID"] | SHARED["account"]) > 0)
    person = (payments["payer_is_person"].to_numpy() & _take(master.orgs["is_company"].to_numpy(), org, False)
              & ~payer_known & considered)
    flag(person, "person_for_company",
         lambda rows: np.array([f"a private person {p} pays for the company {org_names[o]}, not known as its payer; {r}"
                                for p, o, r in zip(quoted(payments["payer_name"].to_numpy()[rows]), org[rows], reason[rows])],
                               dtype=object))

    # 4. Currency.
    org_currency = _take(master.orgs["currency"].to_numpy(dtype=object), org, None)
    line_currency = payments["currency"].to_numpy(dtype=object)
    wrong_currency = considered & pd.notna(org_currency) & (org_currency != line_currency)
    flag(wrong_currency, "currency_mismatch",
         lambda rows: np.array([f"the payment is in {c} but {org_names[o]} keeps its balance in {oc}; {r}"
                                for c, o, oc, r in zip(line_currency[rows], org[rows], org_currency[rows], reason[rows])],
                               dtype=object))

    # 5. Invoices claimed twice: already paid, or named by several payments that together overpay them.
    claims_paid = has & _take(pairs["claims_paid"].to_numpy(), best_row, False)
    flag(claims_paid, "invoice_already_paid",
         lambda rows: np.array([f"invoice {named_invoices.get(p, '')} of {org_names[o]} is already paid; a second payment for it needs a person"
                                for p, o in zip(frame["pair"].to_numpy()[rows], org[rows])], dtype=object))
    flag_double = _double_claims(frame["pair"].to_numpy(), named, payments, master, plan)
    flag(flag_double[0], "invoice_claimed_twice", lambda rows: flag_double[1][rows])

    # 6. Too close to call.
    has_second = second_row >= 0
    second_conf = _take(pairs["confidence"].to_numpy(), second_row, 0)
    margin = int(plan.min_margin * 1000)
    close = has & has_second & (conf - second_conf < margin) & (conf >= int(plan.review_threshold * 1000))
    flag(close, "ambiguous",
         lambda rows: np.array([f"{org_names[o1]} ({_score(c1)}) and {org_names[o2]} ({_score(c2)}) are too close to choose; {r}"
                                for o1, c1, o2, c2, r in zip(org[rows], conf[rows], pairs["org"].to_numpy()[second_row[rows]],
                                                              second_conf[rows], reason[rows])], dtype=object))

    auto = int(plan.auto_credit_threshold * 1000)
    review = int(plan.review_threshold * 1000)
    in_conflict = conflict != ""
    status = np.where(has & ~in_conflict & (conf >= auto), "matched", np.where(has & (conf >= review), "review", "exception")).astype(object)
    status[in_conflict & has] = "review"
    conf = np.where(in_conflict & has, np.clip(conf, review, max(auto - 1, review)), conf)
    rule_name[in_conflict] = conflict[in_conflict]
    reason[in_conflict] = conflict_reason[in_conflict]
    low = (status != "matched") & ~in_conflict & has
    reason[low] = np.array([f"{r}; confidence {_score(c)} is below the auto-credit threshold {plan.auto_credit_threshold}"
                            for r, c in zip(reason[low], conf[low])], dtype=object)
    weak_unrelated = ~considered & unrelated
    rule_name[weak_unrelated] = "unrelated_credit"
    reason[weak_unrelated & ~has] = "the text reads like bank interest, a refund or a return, and names no customer"
    reason[weak_unrelated & has] = np.array([f"the text reads like bank interest, a refund or a return; at most a hint: {r}"
                                             for r in reason[weak_unrelated & has]], dtype=object)

    frame["status"] = pd.Series(status, dtype=object)
    frame["org"] = np.where(status == "matched", org, -1)
    frame["rule"] = pd.Series(rule_name, dtype=object)
    frame["confidence"] = conf
    frame["reason"] = pd.Series(reason, dtype=object)
    frame["suggestions"] = pd.Series(_suggestions(pairs, status, fields, rules, org_ids, pair_invoices, named_invoices, n), dtype=object)
    shown = named_invoices.reindex(frame["pair"]).to_numpy(dtype=object)
    settled = pair_invoices.reindex(frame["pair"]).to_numpy(dtype=object)
    frame["invoices"] = pd.Series(np.where(pd.isna(shown), settled, shown), dtype=object)
    frame["invoices"] = frame["invoices"].where(frame["invoices"].notna(), None)
    return Decided(frame)


class _Fields:
    """Explanation fields of ranked pair rows, computed only for the rows a reason is rendered for
    (a million credits need {org} and {tax_id}; few need {similarity} or a shortfall in words)."""

    def __init__(self, pairs: pd.DataFrame, payments: pd.DataFrame, master: Master,
                 named_invoices: pd.Series, pair_invoices: pd.Series):
        self.line = pairs["line"].to_numpy()
        self.org = pairs["org"].to_numpy()
        self.pair = pairs["pair"].to_numpy()
        self.fit = pairs["fit"].to_numpy(dtype=object)
        self.expected = pairs["expected"].to_numpy()
        self.similarity = pairs["similarity"].to_numpy()
        self.org_display = master.orgs["display"].to_numpy(dtype=object)
        self.org_tax = master.orgs["tax_id"].to_numpy(dtype=object)
        self.payer_tax = payments["payer_tax"].to_numpy(dtype=object)
        self.payer_account = payments["payer_account"].to_numpy(dtype=object)
        self.payer_name = payments["payer_name"].to_numpy(dtype=object)
        self.currency = payments["currency"].to_numpy(dtype=object)
        self.amount = payments["amount"].to_numpy()
        self.named_invoices = named_invoices
        self.pair_invoices = pair_invoices

    def _invoices(self, rows: np.ndarray) -> np.ndarray:
        pair = self.pair[rows]
        named = self.named_invoices.reindex(pair).to_numpy(dtype=object)
        settled = self.pair_invoices.reindex(pair).to_numpy(dtype=object)
        return np.where(pd.isna(named), settled, named)

    def get(self, name: str, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        line, org = self.line[rows], self.org[rows]
        if name == "org":
            return self.org_display[org]
        if name == "invoices":
            return np.array(["" if pd.isna(v) else v.replace(";", ", ") for v in self._invoices(rows)], dtype=object)
        if name == "tax_id":
            return self.payer_tax[line]
        if name == "text_tax_id":
            return self.org_tax[org]
        if name == "iban":
            return self.payer_account[line]
        if name == "payer":
            return quoted(self.payer_name[line])
        if name == "similarity":
            return np.array([f"name similarity {_score(s)}" for s in self.similarity[rows]], dtype=object)
        if name == "amount_fit":
            return self._amount_fit(rows, line)
        raise KeyError(name)

    def _amount_fit(self, rows: np.ndarray, line: np.ndarray) -> np.ndarray:
        fit = self.fit[rows]
        out = np.full(len(rows), "the amount matches no open invoice; it tops up the balance", dtype=object)
        out[fit == "exact"] = "exact amount"
        numbered = np.flatnonzero(~pd.Series(fit).isin(["exact", "none"]).to_numpy())
        if not len(numbered):
            return out
        currency = self.currency[line[numbered]]
        amount = self.amount[line[numbered]]
        expected = self.expected[rows[numbered]]
        settled = self._invoices(rows[numbered])
        shown_amount, shown_expected = money_text(amount, currency), money_text(expected, currency)
        shortfall, surplus = money_text(expected - amount, currency), money_text(amount - expected, currency)
        for i, row in enumerate(numbered):
            listed = str(settled[i]).replace(";", ", ")
            out[row] = {
                "fee": f"short by {shortfall[i]}, within the bank-fee tolerance",
                "sum": f"the sum of open invoices {listed}",
                "sum_fee": f"the sum of open invoices {listed} less a {shortfall[i]} bank fee",
                "partial": f"a partial payment: {shown_amount[i]} of {shown_expected[i]}",
                "over": f"an over-payment: {surplus[i]} above {shown_expected[i]} stays on the balance",
            }[fit[row]]
        return out


def _pair_reasons(pairs: pd.DataFrame, rows: np.ndarray, fields: _Fields, rules) -> np.ndarray:
    out = np.empty(len(rows), dtype=object)
    rule_of = pairs["rule"].to_numpy()[rows]
    for index in np.unique(rule_of):
        these = np.flatnonzero(rule_of == index)
        out[these] = render(rules[index].explanation, fields, rows[these])
    return out


_IDENTITY = (
    ("invoice", "invoice {invoices} belongs to {org}"),
    ("tax_id", "payer tax ID {tax_id} is {org}"),
    ("iban", "the payer's account {iban} is known for {org}"),
    ("tax_id_text", "tax ID {text_tax_id} in the text is {org}"),
    ("name", "the payer {payer} is {org} by name"),
)


def _identity(pairs: pd.DataFrame, row: int, fields: _Fields) -> str:
    for kind, template in _IDENTITY:
        if pairs[kind].to_numpy()[row]:
            names = [n for _, n, _, _ in Formatter().parse(template) if n]
            return template.format(**{n: fields.get(n, [row])[0] for n in names})
    return f"{fields.get('org', [row])[0]} is a candidate"


def _double_claims(best_pair: np.ndarray, named: pd.DataFrame, payments: pd.DataFrame, master: Master,
                   plan: MatchPlan) -> tuple[np.ndarray, np.ndarray]:
    """Payments whose best candidate names an open invoice that other such payments name too, when
    together they pay more than it asks (plus the fee tolerance)."""
    n = len(payments)
    flagged = np.zeros(n, dtype=bool)
    texts = np.full(n, "", dtype=object)
    claims = named[np.isin(named["pair"].to_numpy(), best_pair[best_pair >= 0])]
    claims = claims[master.invoices["is_open"].to_numpy()[claims["inv"].to_numpy()]]
    if claims.empty:
        return flagged, texts
    count = claims.groupby("inv")["line"].transform("nunique").to_numpy()
    claims = claims[count > 1]
    if claims.empty:
        return flagged, texts
    claims = claims.assign(amount=payments["amount"].to_numpy()[claims["line"].to_numpy()])
    totals = claims.groupby("inv")["amount"].sum()
    remaining = master.invoices["remaining"].to_numpy()[totals.index.to_numpy()]
    currency = master.invoices["currency"].to_numpy(dtype=object)[totals.index.to_numpy()]
    tolerance = fee_tolerance(remaining, currency, plan.fee_ratio, plan.fee_fixed, plan.fee_max_share)
    over = totals.index.to_numpy()[totals.to_numpy() > remaining + tolerance]
    claims = claims[np.isin(claims["inv"].to_numpy(), over)]
    line_ids = payments["line_id"].to_numpy(dtype=object)
    numbers = master.invoices["invoice_number"].to_numpy(dtype=object)
    for inv, group in claims.groupby("inv", sort=True):
        lines = sorted(group["line"].unique(), key=lambda l: str(line_ids[l]))
        text = (f"invoice {numbers[inv]} is claimed by {len(lines)} payments ({', '.join(str(line_ids[l]) for l in lines)}) "
                f"that together pay more than it asks")
        for line in lines:
            if not flagged[line]:
                flagged[line] = True
                texts[line] = text
    return flagged, texts


def _suggestions(pairs: pd.DataFrame, status: np.ndarray, fields: _Fields, rules, org_ids: np.ndarray,
                 pair_invoices: pd.Series, named_invoices: pd.Series, n: int) -> np.ndarray:
    """JSON: up to three ranked candidates for every payment that is not credited; '[]' otherwise."""
    out = np.full(n, "[]", dtype=object)
    lines = pairs["line"].to_numpy()
    wanted = np.flatnonzero((pairs["rank"].to_numpy() < 3) & (status[lines] != "matched"))
    if not len(wanted):
        return out
    reasons = _pair_reasons(pairs, wanted, fields, rules)
    pair = pairs["pair"].to_numpy()[wanted]
    invoices = named_invoices.reindex(pair).to_numpy(dtype=object)
    settled = pair_invoices.reindex(pair).to_numpy(dtype=object)
    invoices = np.where(pd.isna(invoices), settled, invoices)
    confidence = pairs["confidence"].to_numpy()[wanted]
    orgs = pairs["org"].to_numpy()[wanted]
    by_line: dict[int, list] = {}
    for line, o, inv, c, r in zip(lines[wanted], orgs, invoices, confidence, reasons):
        by_line.setdefault(int(line), []).append(
            {"org_id": org_ids[o], "invoice_numbers": None if pd.isna(inv) else inv,
             "confidence": _score(c), "reason": r}
        )
    for line, items in by_line.items():
        out[line] = json.dumps(items, ensure_ascii=False)
    return out

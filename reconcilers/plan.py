"""The matching plan: thresholds, tolerances, bounds and rules, kept apart from the engine.

Like a splink settings object, a plan is plain, frozen data validated when it is built, so a bad
threshold or a rule that names unknown evidence fails at start-up, not in the middle of a run. The
engine (`reconcilers.engine.match`) only executes it.

Evidence kinds a rule can require (each holds for one payment and one candidate organization):

- invoice: the payment text names an invoice of this organization, and of no other;
- tax_id: the payer's tax ID (statement field, or the ultimate payer behind a transit account) is
  this organization's, and no other's;
- tax_id_text: a tax ID written in the payment text is this organization's, and no other's;
- iban: the payer's account is known (imported or learned) for this organization, and no other;
- name: the payer's normalized name is this organization's, and no other's;
- shared: a tax ID, account or exact name that several organizations share points here too;
- name_fuzzy: the payer's name is close to this organization's (typos, another transliteration);
- name_close: it is somewhat like it (worth showing a person, never enough to credit);
- name_in_text: a quoted company name in the payment text is this organization's;
- amount: the amount fits this organization's invoices: exactly, short by a bank fee, or as the
  sum of several of them;
- amount_only: nothing but the amount links the payment to this organization (suggestions only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Mapping

EVIDENCE_KINDS = (
    "invoice",
    "tax_id",
    "tax_id_text",
    "iban",
    "name",
    "shared",
    "name_fuzzy",
    "name_close",
    "name_in_text",
    "amount",
    "amount_only",
)
#: Kinds that single out one organization: two organizations with any of these on one payment is a
#: conflict that goes to review, never an auto-credit.
IDENTIFYING_KINDS = ("invoice", "tax_id", "tax_id_text", "iban", "name")

#: Fields a rule's explanation may use; the engine fills each from the payment and the candidate.
EXPLANATION_FIELDS = ("org", "invoices", "tax_id", "text_tax_id", "iban", "payer", "amount_fit", "similarity")


@dataclass(frozen=True)
class Rule:
    """A matching rule: the evidence it needs, the confidence it earns, and its one-line reason."""

    name: str
    requires: frozenset[str]
    confidence: Decimal
    explanation: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "requires", frozenset(self.requires))
        object.__setattr__(self, "confidence", Decimal(self.confidence))
        if not self.name or not self.name.replace("+", "").replace("_", "").isalnum():
            raise ValueError(f"rule name {self.name!r}: use letters, digits, '_' and '+'")
        if not self.requires:
            raise ValueError(f"rule {self.name}: requires no evidence")
        unknown = sorted(self.requires - set(EVIDENCE_KINDS))
        if unknown:
            raise ValueError(f"rule {self.name}: unknown evidence {unknown}; known: {', '.join(EVIDENCE_KINDS)}")
        if not Decimal(0) <= self.confidence <= Decimal(1):
            raise ValueError(f"rule {self.name}: confidence must lie in 0..1")
        if self.confidence != self.confidence.quantize(Decimal("0.001")):
            raise ValueError(f"rule {self.name}: confidence has more than 3 decimal places")
        try:
            self.explanation.format(**{f: "" for f in EXPLANATION_FIELDS})
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"rule {self.name}: explanation uses an unknown field ({exc})") from None
        if "\n" in self.explanation:
            raise ValueError(f"rule {self.name}: an explanation is one line")


def _rule(name: str, confidence: str, explanation: str) -> Rule:
    return Rule(name, frozenset(name.split("+")), Decimal(confidence), explanation)


#: Strongest first. A candidate earns the highest confidence among the rules its evidence satisfies.
DEFAULT_RULES: tuple[Rule, ...] = (
    _rule("invoice+tax_id", "1.000", "invoice {invoices} and payer tax ID {tax_id} both point to {org}"),
    _rule("invoice+iban", "1.000", "invoice {invoices} and the payer's known account {iban} both point to {org}"),
    _rule("tax_id+iban", "0.990", "payer tax ID {tax_id} and known account {iban} are both {org}'s"),
    _rule("invoice+tax_id_text", "0.990", "invoice {invoices} and tax ID {text_tax_id} in the text both point to {org}"),
    _rule("invoice+amount", "0.980", "invoice {invoices} of {org} is in the payment purpose ({amount_fit})"),
    _rule("invoice+name", "0.970", "invoice {invoices} of {org} is in the payment purpose and the payer {payer} is {org}"),
    _rule("tax_id+amount", "0.970", "payer tax ID {tax_id} is {org} ({amount_fit})"),
    _rule("invoice+shared", "0.960", "invoice {invoices} of {org}, and the payer's ID or account is one {org} shares"),
    _rule("iban+amount", "0.960", "the payer's account {iban} is known for {org} ({amount_fit})"),
    _rule("tax_id", "0.950", "payer tax ID {tax_id} is {org}"),
    _rule("iban", "0.940", "the payer's account {iban} is known for {org}"),
    _rule("invoice+name_fuzzy", "0.940", "invoice {invoices} of {org}, and the payer {payer} is close to its name ({similarity})"),
    _rule("tax_id_text+name", "0.940", "tax ID {text_tax_id} in the text and the payer's name {payer} both point to {org}"),
    _rule("tax_id_text+shared", "0.930", "tax ID {text_tax_id} in the text is {org}, and the payer's name or account is one {org} shares"),
    _rule("tax_id_text+amount", "0.930", "tax ID {text_tax_id} in the text is {org} ({amount_fit})"),
    _rule("name+amount", "0.920", "the payer {payer} is {org} by name ({amount_fit})"),
    _rule("name_fuzzy+amount", "0.910", "the payer {payer} is close to {org} ({similarity}; {amount_fit})"),
    _rule("invoice+name_in_text", "0.880", "invoice {invoices} of {org}, and the text names {org}"),
    _rule("shared+amount", "0.850", "the payer's ID, account or name is shared by several organizations; {org} ({amount_fit})"),
    _rule("invoice", "0.850", "invoice {invoices} of {org} is in the payment purpose, but nothing else confirms the payer {payer}"),
    _rule("tax_id_text", "0.800", "tax ID {text_tax_id} in the payment text is {org}"),
    _rule("name", "0.780", "the payer {payer} is {org} by name, and nothing else confirms it"),
    _rule("name_fuzzy", "0.700", "the payer {payer} is close to {org} by name ({similarity})"),
    _rule("name_close+amount", "0.750", "the payer {payer} resembles {org} ({similarity}; {amount_fit})"),
    _rule("shared", "0.650", "the payer's ID, account or name is shared by several organizations, {org} among them"),
    _rule("name_in_text", "0.620", "the payment text names {org}"),
    _rule("name_close", "0.450", "the payer {payer} resembles {org} ({similarity})"),
    _rule("amount_only", "0.500", "only the amount links this payment to {org} ({amount_fit})"),
)


@dataclass(frozen=True)
class MatchPlan:
    """Thresholds, tolerances and bounds for one matching run.

    auto_credit_threshold / review_threshold: at or above the first a payment is credited; at or
        above the second it waits for a person with ranked suggestions; below it is an exception.
    min_margin: the best organization must lead the next one by this much, else a person decides.
    fee_ratio, fee_fixed, fee_max_share: in the currencies of international transfers (the keys of
        fee_fixed) a payment short by at most max(fee_ratio of the expected amount,
        fee_fixed[currency]) still settles in full (an intermediary bank's fee), but never when the
        shortfall exceeds fee_max_share of it. Elsewhere a shortfall is a partial payment.
    max_invoices_per_payment, max_open_invoices_per_org: subset-sum bounds (combination size, and
        how many of an organization's oldest open invoices are considered).
    name_similarity: the least similarity (0..1) of two normalized names to count as name_fuzzy;
    name_suggest_similarity: the least to count as name_close (a suggestion, never a credit).
    name_block_max_orgs: a name token shared by more organizations is too common to block on.
    amount_block_max_invoices: amount-only suggestions only when at most this many open invoices
        carry the amount (a common tariff price says nothing).
    due_grace_days: an invoice is a candidate for an amount match until this long after its due date.
    min_invoice_digits: an invoice number with fewer significant digits is too short to look for.
    """

    auto_credit_threshold: Decimal = Decimal("0.90")
    review_threshold: Decimal = Decimal("0.60")
    min_margin: Decimal = Decimal("0.05")
    fee_ratio: Decimal = Decimal("0.01")
    fee_fixed: Mapping[str, Decimal] = field(
        default_factory=lambda: MappingProxyType({"USD": Decimal("35"), "EUR": Decimal("35")})
    )
    fee_max_share: Decimal = Decimal("0.25")
    max_invoices_per_payment: int = 5
    max_open_invoices_per_org: int = 30
    name_similarity: Decimal = Decimal("0.85")
    name_suggest_similarity: Decimal = Decimal("0.70")
    name_block_max_orgs: int = 50
    amount_block_max_invoices: int = 3
    due_grace_days: int = 90
    min_invoice_digits: int = 5
    rules: tuple[Rule, ...] = DEFAULT_RULES

    def __post_init__(self) -> None:
        for name in ("auto_credit_threshold", "review_threshold", "min_margin", "fee_ratio", "fee_max_share", "name_similarity",
                     "name_suggest_similarity"):
            object.__setattr__(self, name, Decimal(getattr(self, name)))
        object.__setattr__(self, "fee_fixed", MappingProxyType({k: Decimal(v) for k, v in dict(self.fee_fixed).items()}))
        object.__setattr__(self, "rules", tuple(self.rules))
        if not Decimal(0) <= self.review_threshold <= self.auto_credit_threshold <= Decimal(1):
            raise ValueError("thresholds must satisfy 0 <= review_threshold <= auto_credit_threshold <= 1")
        for name in ("auto_credit_threshold", "review_threshold", "min_margin"):
            if getattr(self, name) != getattr(self, name).quantize(Decimal("0.001")):
                raise ValueError(f"{name} has more than 3 decimal places")
        if not Decimal(0) <= self.min_margin < Decimal(1):
            raise ValueError("min_margin must lie in 0..1")
        if not (Decimal(0) <= self.fee_ratio < Decimal(1) and Decimal(0) <= self.fee_max_share < Decimal(1)):
            raise ValueError("fee_ratio and fee_max_share must lie in 0..1")
        if any(v < 0 or len(k) != 3 for k, v in self.fee_fixed.items()):
            raise ValueError("fee_fixed maps 3-letter currency codes to non-negative amounts")
        if not 1 <= self.max_invoices_per_payment <= 8:
            raise ValueError("max_invoices_per_payment must lie in 1..8 (the search is exponential)")
        if not 1 <= self.max_open_invoices_per_org <= 40:
            raise ValueError("max_open_invoices_per_org must lie in 1..40")
        if not Decimal("0.5") <= self.name_suggest_similarity <= self.name_similarity <= Decimal(1):
            raise ValueError("name similarities must satisfy 0.5 <= name_suggest_similarity <= name_similarity <= 1")
        for name in ("name_block_max_orgs", "amount_block_max_invoices", "due_grace_days", "min_invoice_digits"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if not self.rules:
            raise ValueError("a plan needs at least one rule")
        names = [r.name for r in self.rules]
        if len(set(names)) != len(names):
            raise ValueError(f"rule names repeat: {sorted({n for n in names if names.count(n) > 1})}")
        requirements = [r.requires for r in self.rules]
        if len(set(requirements)) != len(requirements):
            raise ValueError("two rules require the same evidence; keep one")

    @classmethod
    def from_settings(cls, settings, **overrides) -> "MatchPlan":
        """The plan with the thresholds of `payrecon.settings.Settings` (or anything shaped like it)."""
        return cls(
            auto_credit_threshold=settings.auto_credit_threshold,
            review_threshold=settings.review_threshold,
            **overrides,
        )

    def ranked_rules(self) -> tuple[Rule, ...]:
        """Rules strongest first; ties broken by name so the choice never depends on input order."""
        return tuple(sorted(self.rules, key=lambda r: (-r.confidence, r.name)))

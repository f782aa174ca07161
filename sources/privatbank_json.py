"""PrivatBank Autoclient (acp.privatbank.ua) statement as JSON.

Format (../shared/fixtures/FORMATS.md §6, "PrivatBank Autoclient"): the body of
`GET /api/statements/transactions` (final) or `/api/statements/transactions/interim` (today):

    {"status": "SUCCESS", "type": "transactions", "exist_next_page": false,
     "next_page_id": "620699370_online", "transactions": [{...}, ...]}

Accepted shapes: one such body, a bare list of transactions, or several pages: a JSON list of
bodies, or bodies simply written one after the other. An error body (`"status": "ERROR"` with
`code`/`message`) is not a statement and raises MalformedFile quoting the bank's message.

Transaction fields used (the bank's field notes are quoted in the comments):

* `AUT_MY_ACC` our account; `AUT_MY_CRF`/`AUT_MY_MFO` our EDRPOU and bank code (kept in extra).
* `AUT_CNTR_NAM`/`AUT_CNTR_ACC`/`AUT_CNTR_CRF` the counterparty (EDRPOU or RNOKPP).
* `SUM` unsigned, `TRANTYPE` C (credit, money in) / D (debit): the sign comes from TRANTYPE only.
* `CCY`, `DAT_OD` (DD.MM.YYYY, "дата валютування": the posting day, used as booking and value
  date), `DAT_KL` ("клієнтська дата": the payer's document date, kept in extra), `OSND` purpose.
* `REF` + `REFN` ("для ідентифікації унікальності платіжних інструкцій використовуйте
  конкатенацію полів REF+REFN"): the bank reference; `ID` when REF is absent.
* `PR_PR` state: r = проведена (booked); p = проводиться, n = забракована, t = сторнована are
  not booked lines and are skipped with a warning.
* Transit accounts ("Транз.рахунок ...") hide the real payer/recipient in the NBU ultimate-party
  fields `PAYER_ULTMT_NAME`/`PAYER_ULTMT_NCEO` (credits) and `RECIPIENT_ULTMT_*` (debits).

Interim rows reappear in the final statement, so the line id is built from what both copies
share (account, REF, REFN or ID, booking date, signed amount) and never from the page or file.
"""

from __future__ import annotations

import dataclasses
import json
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterator

from sources.errors import MalformedFile
from sources.parsing import clean, parse_date
from sources.records import NormalizedRecord, ParseResult, make_line_id

#: Keys only a PrivatBank Autoclient body or transaction has; `identify` looks for them.
_SIGNATURE_KEYS = (b'"AUT_MY_ACC"', b'"TRANTYPE"', b'"AUT_CNTR_NAM"', b'"exist_next_page"')
#: Keys of a transaction object: a list element with any of them is a transaction.
_TRANSACTION_KEYS = frozenset({"TRANTYPE", "SUM", "AUT_MY_ACC", "REF", "DAT_OD"})
#: PR_PR "стан": only r (проведена) is a booked line.
_BOOKED_STATE = "r"
_STATE_NAMES = {"p": "проводиться (in progress)", "n": "забракована (rejected)", "t": "сторнована (reversed)"}
#: Counterparty names of PrivatBank transit accounts; the real party is in the *_ULTMT_* fields.
_TRANSIT_NAME = re.compile(r"транз\.?\s*рах|транзит", re.IGNORECASE)
#: An unsigned money amount as the bank writes SUM ("1500.00"; a decimal comma is tolerated).
_PLAIN_AMOUNT = re.compile(r"[+-]?\d{1,18}(?:[.,]\d{1,6})?")


class PrivatbankJsonSource:
    name = "privatbank_json"

    def identify(self, path: Path, head: bytes) -> bool:
        start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if start[:1] not in (b"{", b"["):
            return False
        if any(key in head for key in _SIGNATURE_KEYS):
            return True
        # An error body has none of the statement keys; PrivatBank's carries a serviceCode.
        return b'"status"' in head and b'"serviceCode"' in head

    def parse(self, path: Path) -> ParseResult:
        warnings: list[str] = []
        text = _decode(path, path.read_bytes(), warnings)
        documents = _json_documents(path, text)
        transactions = list(_transactions(path, documents, warnings))
        return _StatementReader(self.name, warnings).read(transactions)


def _decode(path: Path, data: bytes, warnings: list[str]) -> str:
    """UTF-8 as the API documents it; cp1251 as some client code saves the body (FORMATS.md §6)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1251")
    except UnicodeDecodeError:
        raise MalformedFile(f"{path.name}: neither UTF-8 nor cp1251 text; save the Autoclient response as it came") from None
    warnings.append("body is cp1251-encoded, not UTF-8; decoded as cp1251")
    return text


def _json_documents(path: Path, text: str) -> list[Any]:
    """Every JSON value in the text: one body, or pages written one after another."""
    decoder = json.JSONDecoder(parse_float=Decimal, parse_int=Decimal, parse_constant=_reject_constant)
    documents: list[Any] = []
    position = _skip_space(text, 0)
    while position < len(text):
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            raise MalformedFile(f"{path.name}: not valid JSON at line {error.lineno} column {error.colno}: {error.msg}") from None
        except (RecursionError, ValueError) as error:
            raise MalformedFile(f"{path.name}: not a usable JSON document ({type(error).__name__})") from None
        documents.append(value)
        position = _skip_space(text, position)
    if not documents:
        raise MalformedFile(f"{path.name}: empty file; expected the JSON body of /api/statements/transactions")
    return documents


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n\ufeff":
        position += 1
    return position


def _transactions(path: Path, documents: list[Any], warnings: list[str]) -> Iterator[tuple[int, Any]]:
    """(page number, transaction) for every transaction of every page body, in file order."""
    pages: list[Any] = []
    for document in documents:
        bodies = [_is_body(item) for item in document] if isinstance(document, list) else []
        if bodies and all(bodies):
            pages.extend(document)
        elif any(bodies):
            raise MalformedFile(f"{path.name}: a JSON list mixes response bodies and bare transactions; save either pages or transactions")
        else:
            pages.append(document)
    last_body: dict | None = None
    for number, page in enumerate(pages, start=1):
        if isinstance(page, list):
            # A bare list of transactions (what client code keeps of the body).
            for item in page:
                yield number, item
        elif _is_body(page):
            _check_status(path, page, number)
            rows = page.get("transactions")
            if not isinstance(rows, list):
                kind = clean(_text(page.get("type"))) or "unknown"
                raise MalformedFile(f"{path.name}: page {number} has no 'transactions' list (type {kind}); "
                                    "expected a statement of transactions")
            last_body = page
            for item in rows:
                yield number, item
        else:
            raise MalformedFile(f"{path.name}: page {number} is neither an Autoclient response body nor a list of transactions")
    if last_body is not None and last_body.get("exist_next_page") is True:
        next_id = _text(last_body.get("next_page_id"))
        warnings.append(f"the last page says more pages exist (exist_next_page=true, next_page_id={next_id}); the statement is incomplete")


def _is_body(value: Any) -> bool:
    return isinstance(value, dict) and ("transactions" in value or "status" in value) and not _TRANSACTION_KEYS & value.keys()


def _check_status(path: Path, body: dict, number: int) -> None:
    status = _text(body.get("status"))
    if status is None or status.upper() == "SUCCESS":
        return
    keys = ("code", "message", "serviceCode", "requestId")
    detail = "; ".join(f"{key} {_text(body.get(key))}" for key in keys if body.get(key) not in (None, ""))
    raise MalformedFile(f"{path.name}: page {number} is an error response, not a statement: status {status}"
                        + (f" ({detail})" if detail else ""))


def _text(value: Any) -> str | None:
    """A JSON value as text: strings cleaned, numbers as written, anything else as JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)):
        return str(value)
    return clean(json.dumps(value, ensure_ascii=False, default=str))


def _field(txn: dict, key: str) -> str | None:
    return _text(txn.get(key))


def _label(txn: dict, index: int) -> str:
    """How a warning names a transaction: by REF.REFN, else ID, else its position."""
    reference, txn_id = _field(txn, "REF"), _field(txn, "ID")
    if reference:
        return f"REF {reference}.{_field(txn, 'REFN')}"
    return f"ID {txn_id}" if txn_id else f"transaction {index}"


def signed_amount(raw: str | None, trantype: str | None) -> str | None:
    """SUM signed by TRANTYPE (C positive, D negative); the raw SUM when it is not a plain number,
    None when TRANTYPE does not say the direction (an unsigned amount would pass for a credit)."""
    if raw is None:
        return None
    compact = re.sub(r"[\s\u00a0]", "", raw)
    if not _PLAIN_AMOUNT.fullmatch(compact):
        return raw
    try:
        value = Decimal(compact.replace(",", "."))
    except InvalidOperation:
        return raw
    if value < 0:
        # SUM is documented unsigned; a signed one is not ours to reinterpret.
        return raw
    if trantype == "C":
        return format(value, "f")
    if trantype == "D":
        return format(-value, "f") if value else format(value, "f")
    return None


class _StatementReader:
    """Turns the transactions of one file into records, skipping unbooked ones and repeats."""

    def __init__(self, name: str, warnings: list[str]):
        self.name = name
        self.warnings = warnings
        self.records: list[NormalizedRecord] = []
        self.seen: dict[tuple, dict] = {}
        self.occurrences: dict[tuple, int] = {}
        self.unbooked: dict[str, list[str]] = {}
        self.repeats: list[str] = []

    def read(self, transactions: list[tuple[int, Any]]) -> ParseResult:
        for index, (page, transaction) in enumerate(transactions, start=1):
            if not isinstance(transaction, dict):
                self.warnings.append(f"transaction {index} (page {page}) is not a JSON object; skipped: {_text(transaction)!s:.80}")
                continue
            self._read_transaction(index, page, transaction)
        self._summarize()
        return ParseResult(records=self.records, transactions_found=len(transactions), warnings=self.warnings)

    def _read_transaction(self, index: int, page: int, txn: dict) -> None:
        label = _label(txn, index)
        state = (_field(txn, "PR_PR") or _BOOKED_STATE).lower()
        if state != _BOOKED_STATE:
            self.unbooked.setdefault(state, []).append(label)
            return
        record = self._record(txn, page)
        identity = self._identity(record, txn)
        if identity in self.seen:
            if self._is_repeat(identity, txn, label):
                return
        self.seen.setdefault(identity, txn)
        self.occurrences[identity] = self.occurrences.get(identity, 0) + 1
        line_id = make_line_id(self.name, *identity, self.occurrences[identity])
        self.records.append(_with_line_id(record, line_id))

    def _identity(self, record: NormalizedRecord, txn: dict) -> tuple:
        """What an interim copy and the final copy of one posting share."""
        reference, number, txn_id = _text(txn.get("REF")), _text(txn.get("REFN")), _text(txn.get("ID"))
        if reference or txn_id:
            key: tuple = ("REF", reference, number) if reference else ("ID", txn_id)
        else:
            # Without a bank reference the row's own content is the only identity there is.
            key = ("ROW", record.counterparty_account, _text(txn.get("NUM_DOC")), record.remittance, _text(txn.get("TIM_P")))
        return (record.account, *key, record.booking_date, record.amount)

    def _is_repeat(self, identity: tuple, txn: dict, label: str) -> bool:
        """A bank-referenced posting seen twice is one posting (overlapping pages, or the interim and
        final copy saved together); rows without a bank reference are kept and numbered."""
        if identity[1] == "ROW":
            self.warnings.append(f"{label}: identical row without REF/ID appears more than once; kept each as a separate line")
            return False
        first = self.seen[identity]
        differing = sorted(k for k in first.keys() | txn.keys() if first.get(k) != txn.get(k))
        how = "identical" if not differing else f"differing only in {', '.join(differing)}"
        self.repeats.append(f"{label} ({how})")
        return True

    def _record(self, txn: dict, page: int) -> NormalizedRecord:
        trantype = (_field(txn, "TRANTYPE") or "").upper() or None
        amount = signed_amount(_field(txn, "SUM"), trantype)
        if amount is None and _field(txn, "SUM") is not None:
            self.warnings.append(f"REF {_field(txn, 'REF')}: TRANTYPE {trantype!r} is neither C nor D; amount left empty")
        booking_date = parse_date(_field(txn, "DAT_OD"))
        counterparty = _counterparty(txn, trantype)
        if counterparty.extra == {"transit_account": "yes"}:
            self.warnings.append(f"REF {_field(txn, 'REF')}: counterparty is a transit account ({counterparty.name}) and no "
                                 "PAYER_/RECIPIENT_ULTMT fields name the real party; see the payment purpose")
        reference = _field(txn, "REF")
        bank_ref = f"{reference}{_field(txn, 'REFN') or ''}" if reference else _field(txn, "ID")
        extra = {
            "page": page,
            "trantype": trantype,
            "ref": reference,
            "refn": _field(txn, "REFN"),
            "id": _field(txn, "ID"),
            "technical_transaction_id": _field(txn, "TECHNICAL_TRANSACTION_ID"),
            "document_number": _field(txn, "NUM_DOC"),
            "document_type": _field(txn, "DOC_TYP"),
            "document_date": parse_date(_field(txn, "DAT_KL")),
            "posted_at": _field(txn, "DATE_TIME_DAT_OD_TIM_P") or _field(txn, "TIM_P"),
            "state": _field(txn, "PR_PR"),
            "fl_real": _field(txn, "FL_REAL"),
            "sum_uah_equivalent": _field(txn, "SUM_E"),
            "uetr": _field(txn, "UETR"),
            "dlr": _field(txn, "DLR"),
            "our_tax_id": _field(txn, "AUT_MY_CRF"),
            "our_mfo": _field(txn, "AUT_MY_MFO"),
            "counterparty_mfo": _field(txn, "AUT_CNTR_MFO"),
            "counterparty_bank": _field(txn, "AUT_CNTR_MFO_NAME"),
            "struct_code": _field(txn, "STRUCT_CODE"),
            "struct_type": _field(txn, "STRUCT_TYPE"),
            "struct_category": _field(txn, "STRUCT_CATEGORY"),
            **counterparty.extra,
        }
        return NormalizedRecord(
            record_type="bank_line",
            source_format=self.name,
            account=_field(txn, "AUT_MY_ACC"),
            booking_date=booking_date,
            value_date=booking_date,
            amount=amount,
            currency=(_field(txn, "CCY") or "").upper() or None,
            counterparty_name=counterparty.name,
            counterparty_account=counterparty.account,
            counterparty_tax_id=counterparty.tax_id,
            remittance=_field(txn, "OSND"),
            end_to_end_id=None,
            bank_ref=bank_ref,
            line_id="",
            extra={k: v for k, v in extra.items() if v is not None},
        )

    def _summarize(self) -> None:
        for state, labels in sorted(self.unbooked.items()):
            meaning = _STATE_NAMES.get(state, "unknown state")
            self.warnings.append(f"skipped {len(labels)} not-booked transaction(s) with PR_PR={state} ({meaning}): "
                                 f"{', '.join(labels[:10])}")
        if self.repeats:
            self.warnings.append(f"dropped {len(self.repeats)} repeated posting(s) (same account, REF+REFN/ID, date and amount): "
                                 f"{'; '.join(self.repeats[:10])}")


class _Counterparty:
    def __init__(self, name: str | None, account: str | None, tax_id: str | None, extra: dict[str, Any]):
        self.name, self.account, self.tax_id, self.extra = name, account, tax_id, extra


def _counterparty(txn: dict, trantype: str | None) -> _Counterparty:
    """AUT_CNTR_*, or on a transit account the ultimate party of the NBU fields: the payer
    (PAYER_ULTMT_*) of a credit, the recipient (RECIPIENT_ULTMT_*) of a debit."""
    name, account, tax_id = _text(txn.get("AUT_CNTR_NAM")), _text(txn.get("AUT_CNTR_ACC")), _text(txn.get("AUT_CNTR_CRF"))
    prefix = "RECIPIENT" if trantype == "D" else "PAYER"
    ultimate_name = _text(txn.get(f"{prefix}_ULTMT_NAME"))
    ultimate_tax_id = _text(txn.get(f"{prefix}_ULTMT_NCEO")) or _text(txn.get(f"{prefix}_ULTMT_DOCUMENT"))
    transit = bool(name and _TRANSIT_NAME.search(name))
    if not ultimate_name and not ultimate_tax_id:
        return _Counterparty(name, account, tax_id, {"transit_account": "yes"} if transit else {})
    extra = {
        "transit_account": "yes" if transit else "no",
        "transit_name": name,
        "transit_account_number": account,
        "transit_tax_id": tax_id,
        "ultimate_country": _text(txn.get(f"{prefix}_ULTMT_COUNTRY_CODE")),
    }
    # The ultimate party's own account is not in these fields: a transit account is not theirs (it
    # stays in extra), while a direct payer's account is still where the money came from.
    return _Counterparty(ultimate_name or name, None if transit else account, ultimate_tax_id, extra)


def _with_line_id(record: NormalizedRecord, line_id: str) -> NormalizedRecord:
    return dataclasses.replace(record, line_id=line_id)

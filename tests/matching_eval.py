"""A labelled evaluation world for the matching engine: organizations, invoices and bank lines,
each line labelled with the organization that truly paid it (or None) and with whether a person
could identify that organization at a glance.

    world = World(n_orgs=1200, seed=7)
    data = world.evaluation(per_pattern=40)       # every pattern, the same number of lines each
    data = world.stream(n_lines=1_000_000)        # a realistic mix, for benchmarks

The world is made independently of the engine: its own transliterations (the national system and
the "popular" Russian-style one payers also use), its own name variants and typos. Only the check
digit helpers (ЄДРПОУ completion, IBAN check digits) come from `reconcilers.evidence`.

Labels:
- true_org: the org_id whose balance the money belongs to; None for interest, refunds, returns;
- identifiable: a person would name that organization at a glance and credit it (an invoice number,
  a tax ID, a known account, or the exact name with a fitting amount). Conflicts are not: the rules
  send them to a person by design; nor is a lone name without a fitting amount;
- expect: credit | review | exception, what the rules should do.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import pandas as pd

from reconcilers.evidence import edrpou_with_check_digit, make_iban

# --- vocabularies ----------------------------------------------------------------------------------

ROOTS = [
    "Ромашка", "Веселка", "Зоря", "Калина", "Ясен", "Барвінок", "Соняшник", "Лелека", "Чайка", "Дніпро",
    "Карпати", "Поділля", "Світанок", "Оберіг", "Джерело", "Криниця", "Вишня", "Ліра", "Атлант", "Альфа",
    "Вектор", "Гермес", "Меркурій", "Прометей", "Орбіта", "Сигнал", "Імпульс", "Горизонт", "Меридіан",
    "Олімп", "Фенікс", "Граніт", "Кристал", "Бурштин", "Смарагд", "Топаз", "Оріон", "Пегас", "Титан", "Мрія",
    "Хвиля", "Ятрань", "Щедрик", "Жайворонок", "Юність", "Єдність", "Їжачок", "Зграя", "Хортиця", "Цитадель",
]
ADJECTIVES = [
    "Сонячна", "Золота", "Нова", "Зелена", "Перша", "Велика", "Київська", "Львівська", "Одеська", "Харківська",
    "Дніпровська", "Степова", "Морська", "Гірська", "Лісова", "Світла", "Срібна", "Тиха", "Ясна", "Вільна",
]
NOUNS = [
    "Долина", "Нива", "Гавань", "Хвиля", "Зірка", "Криниця", "Ліга", "Мрія", "Вежа", "Поляна", "Пристань",
    "Діброва", "Пасіка", "Садиба", "Майстерня", "Лінія", "Студія", "Аптека", "Пекарня", "Кав'ярня",
]
SUFFIXES = ["Груп", "Плюс", "Трейд", "Сервіс", "Логістик", "Маркет", "Софт", "Медіа", "Агро", "Буд", "Тех",
            "Консалт", "Девелопмент", "Фарм", "Енерго"]
ONSETS = ["Б", "В", "Г", "Д", "Ж", "З", "К", "Л", "М", "Н", "П", "Р", "С", "Т", "Ф", "Х", "Ц", "Ч", "Ш", "Бр", "Гр",
          "Кр", "Пр", "Ст", "Тр", "Св", "Зл", "Пл"]
VOWELS = ["а", "о", "е", "и", "і", "у", "я", "ю", "є"]
CODAS = ["", "", "", "н", "р", "л", "с", "к", "м", "т"]
SURNAMES = ["Шевченко", "Коваленко", "Бондаренко", "Ткаченко", "Кравченко", "Олійник", "Шевчук", "Поліщук", "Бойко",
            "Ковальчук", "Мельник", "Лисенко", "Марченко", "Руденко", "Савченко", "Петренко", "Клименко", "Павленко",
            "Кузьменко", "Романенко", "Гончаренко", "Литвиненко", "Мороз", "Левченко", "Сидоренко", "Мазур",
            "Гаврилюк", "Ярошенко", "Іваненко", "Захарченко", "Щербак", "Юрченко", "Єременко", "Хоменко"]
MEN = [("Іван", "Іванович", "Іванівна"), ("Петро", "Петрович", "Петрівна"), ("Олександр", "Олександрович", "Олександрівна"),
       ("Андрій", "Андрійович", "Андріївна"), ("Сергій", "Сергійович", "Сергіївна"), ("Микола", "Миколайович", "Миколаївна"),
       ("Василь", "Васильович", "Василівна"), ("Олег", "Олегович", "Олегівна"), ("Юрій", "Юрійович", "Юріївна"),
       ("Дмитро", "Дмитрович", "Дмитрівна"), ("Євген", "Євгенович", "Євгенівна"), ("Григорій", "Григорович", "Григорівна")]
WOMEN = ["Олена", "Наталія", "Ірина", "Оксана", "Тетяна", "Юлія", "Марія", "Світлана", "Ганна", "Людмила", "Яна"]
FOREIGN = [("Nordlicht", "GmbH", "DE"), ("Baltic Trade", "OÜ", "EE"), ("Vistula Media", "Sp. z o.o.", "PL"),
           ("Danube Logistics", "SRL", "RO"), ("Alpen Digital", "AG", "AT"), ("Northwind", "Ltd", "GB"),
           ("Blue Harbor", "Inc", "US"), ("Adriatic Soft", "d.o.o.", "HR"), ("Tallinn Pixel", "OÜ", "EE"),
           ("Krakow Apps", "Sp. z o.o.", "PL"), ("Rhein Commerce", "GmbH", "DE"), ("Thames Analytics", "Ltd", "GB")]
FOREIGN_WORDS = ["Group", "Labs", "Systems", "Digital", "Partners", "Solutions", "Networks", "Studio", "Trading",
                 "Consulting", "Media", "Software", "Analytics", "Commerce", "Marketing", "Ventures", "Cloud", "Mobile"]
LEGAL = {
    "ТОВ": "ТОВАРИСТВО З ОБМЕЖЕНОЮ ВІДПОВІДАЛЬНІСТЮ",
    "ПП": "ПРИВАТНЕ ПІДПРИЄМСТВО",
    "ПрАТ": "ПРИВАТНЕ АКЦІОНЕРНЕ ТОВАРИСТВО",
    "ФОП": "ФІЗИЧНА ОСОБА-ПІДПРИЄМЕЦЬ",
}
LATIN_FORM = {"ТОВ": ["TOV", "LLC", "TOV {} LLC", "LIMITED LIABILITY COMPANY"], "ПП": ["PP", "PE", "PRIVATE ENTERPRISE"],
              "ПрАТ": ["PRAT", "PJSC"], "ФОП": ["FOP", "PE", "INDIVIDUAL ENTREPRENEUR"]}
MFOS = ["305299", "322001", "300465", "380805", "300528", "320649", "351005", "328704"]
BANKS = [("АТ КБ «ПРИВАТБАНК»", "14360570", "305299"), ("АТ «Ощадбанк»", "00032129", "300465"),
         ("АТ «Райффайзен Банк»", "14305909", "380805")]
UAH_TARIFFS = ["490.00", "990.00", "1490.00", "2490.00", "3990.00", "5990.00", "9990.00", "14990.00"]
FX_TARIFFS = ["49.00", "99.00", "149.00", "199.00", "299.00", "499.00", "990.00"]

# The world's own transliterations, written apart from the engine's.
_NATIONAL = {
    "А": "A", "Б": "B", "В": "V", "Г": "H", "Ґ": "G", "Д": "D", "Е": "E", "Є": "IE", "Ж": "ZH", "З": "Z", "И": "Y",
    "І": "I", "Ї": "I", "Й": "I", "К": "K", "Л": "L", "М": "M", "Н": "N", "О": "O", "П": "P", "Р": "R", "С": "S",
    "Т": "T", "У": "U", "Ф": "F", "Х": "KH", "Ц": "TS", "Ч": "CH", "Ш": "SH", "Щ": "SHCH", "Ь": "", "Ю": "IU",
    "Я": "IA", "'": "", "’": "",
}
_NATIONAL_START = {"Є": "YE", "Ї": "YI", "Й": "Y", "Ю": "YU", "Я": "YA"}
_POPULAR = dict(_NATIONAL, **{"Г": "G", "И": "I", "Є": "E", "Ї": "I", "Й": "Y", "Ю": "YU", "Я": "YA", "Х": "H", "Щ": "SCH", "Ц": "C"})


def translit(text: str, popular: bool = False) -> str:
    table = _POPULAR if popular else _NATIONAL
    out, previous_letter = [], False
    for char in text.upper():
        if char in _NATIONAL:
            if not popular and not previous_letter and char in _NATIONAL_START:
                out.append(_NATIONAL_START[char])
            elif not popular and char == "Г" and out and out[-1] == "Z":
                out.append("GH")
            else:
                out.append(table[char])
            previous_letter = char not in "'’"  # after an apostrophe a letter is inside the word
        else:
            out.append(char)
            previous_letter = char.isalpha()
    return "".join(out)


def rnokpp(rng: random.Random) -> str:
    days = rng.randint(22000, 36000)  # born 1960..1998
    stem = f"{days:05d}{rng.randint(0, 999):03d}{rng.randint(0, 9)}"
    weights = (-1, 5, 7, 9, 4, 6, 10, 5, 7)
    check = sum(int(d) * w for d, w in zip(stem, weights)) % 11 % 10
    return stem + str(check)


def ua_account(rng: random.Random, balance: str = "2600", mfo: str | None = None) -> str:
    return make_iban("UA", (mfo or rng.choice(MFOS)) + "00000" + balance + f"{rng.randint(0, 10**10 - 1):010d}")


def foreign_account(rng: random.Random, country: str) -> str:
    lengths = {"DE": 18, "EE": 16, "PL": 24, "RO": None, "AT": 16, "GB": None, "US": None, "HR": 17}
    width = lengths.get(country)
    if not width:
        country, width = "DE", 18
    return make_iban(country, "".join(str(rng.randint(0, 9)) for _ in range(width)))


# --- the world -------------------------------------------------------------------------------------


@dataclass
class Org:
    org_id: str
    kind: str  # company | fop | foreign
    form: str  # ТОВ, ПП, ПрАТ, ФОП, or the foreign suffix
    core: str  # the brand ("Ромашка") or the person's "Прізвище Ім'я По батькові"
    tax_id: str | None
    currency: str
    ibans: list[str] = field(default_factory=list)
    learned_iban: str | None = None
    learned_name: str | None = None
    invoices: list[dict] = field(default_factory=list)
    country: str = "UA"

    @property
    def name(self) -> str:
        if self.kind == "foreign":
            return f"{self.core} {self.form}"
        if self.kind == "fop":
            return f"ФОП {self.core}"
        return f"{self.form} «{self.core}»"

    @property
    def legal_name(self) -> str:
        if self.kind == "foreign":
            return f"{self.core.upper()} {self.form.upper()}"
        if self.kind == "fop":
            return f"{LEGAL['ФОП']} {self.core.upper()}"
        return f"{LEGAL[self.form]} «{self.core.upper()}»"


@dataclass
class EvalData:
    organizations: pd.DataFrame
    organization_ibans: pd.DataFrame
    organization_names: pd.DataFrame
    invoices: pd.DataFrame
    lines: pd.DataFrame
    labels: pd.DataFrame  # line_id, pattern, true_org, identifiable, expect, invoices (the ones it pays)


PATTERNS = {
    # name: (identifiable, expect, weight in a realistic stream)
    "invoice_ua": (True, "credit", 6), "invoice_ru": (True, "credit", 2), "invoice_en": (True, "credit", 2),
    "invoice_formats": (True, "credit", 3), "invoice_lookalike": (True, "credit", 1), "invoice_ocr": (True, "credit", 1),
    "tax_id_field": (True, "credit", 30), "tax_id_text": (True, "credit", 2), "fop_rnokpp": (True, "credit", 8),
    "iban_imported": (True, "credit", 15), "iban_learned": (True, "credit", 3), "name_translit": (True, "credit", 2),
    "name_fuzzy": (True, "credit", 1), "fee_short": (True, "credit", 2), "partial": (True, "credit", 2),
    "partial_two": (True, "credit", 1), "overpayment": (True, "credit", 1), "combined_numbers": (True, "credit", 1),
    "combined_amount": (True, "credit", 2), "transit": (True, "credit", 3), "similar_names": (True, "credit", 1),
    "cancelled_invoice": (True, "credit", 1),
    "shared_name": (False, "review", 0.3), "name_only_topup": (False, "review", 0.5),
    "conflict_invoice_vs_tax": (False, "review", 0.3), "conflict_double_claim": (False, "review", 0.3),
    "conflict_paid_invoice": (False, "review", 0.3), "conflict_person_for_company": (False, "review", 0.5),
    "currency_mismatch": (False, "review", 0.2), "unknown_payer": (False, "exception", 1.5),
    "unrelated_interest": (False, "exception", 0.5), "unrelated_refund": (False, "exception", 0.5),
    "unrelated_return": (False, "review", 0.3),
}


class World:
    """Organizations with invoices; `evaluation` and `stream` draw labelled bank lines from it."""

    def __init__(self, n_orgs: int = 1200, seed: int = 7, invoices_per_org: tuple[int, int] = (1, 4),
                 start: date = date(2026, 10, 1), status_weights: tuple[float, float, float, float] = (0.82, 0.06, 0.08, 0.04)):
        """status_weights: shares of open, partially paid, paid and cancelled invoices."""
        self.rng = random.Random(seed)
        self.status_weights = status_weights
        self.start = start
        self.orgs: list[Org] = []
        self._cores: set[str] = set()
        self._taxes: set[str] = set()
        self._invoice_seq = 0
        self._line_seq = 0
        self.similar: list[tuple[Org, Org]] = []  # (org, sibling with a similar name)
        self.shared_names: list[tuple[Org, Org]] = []  # same brand, another legal form
        self.twins: set[str] = set()  # org_ids whose name another organization also bears
        self.registered: dict[str, str] | None = None  # stream mode: each payer's registered spelling
        self._other_accounts: dict[str, list[str]] = {}
        self._persons: dict[str, Org] = {}
        self._build(n_orgs, invoices_per_org)

    # organizations ---------------------------------------------------------------------------------
    def _core(self) -> str:
        rng = self.rng
        for _ in range(1000):
            shape = rng.random()
            if shape < 0.15:
                core = rng.choice(ROOTS)
            elif shape < 0.3:
                core = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"
            elif shape < 0.45:
                core = f"{rng.choice(ROOTS)} {rng.choice(SUFFIXES)}"
            else:
                syllables = "".join(rng.choice(ONSETS).lower() + rng.choice(VOWELS) + rng.choice(CODAS) for _ in range(rng.randint(2, 3)))
                core = syllables.capitalize() + (f" {rng.choice(SUFFIXES)}" if rng.random() < 0.4 else "")
            if core.upper() not in self._cores:
                self._cores.add(core.upper())
                return core
        raise RuntimeError("ran out of names")

    def _tax(self, person: bool) -> str:
        while True:
            value = rnokpp(self.rng) if person else edrpou_with_check_digit(f"{self.rng.randint(0, 4_999_999) + 40_000_000:07d}"[-7:])
            if value not in self._taxes:
                self._taxes.add(value)
                return value

    def _person(self) -> tuple[str, bool]:
        if self.rng.random() < 0.5:
            surname = self.rng.choice(SURNAMES)
        else:  # a rarer surname: a made-up stem with a common ending
            stem = self.rng.choice(ONSETS) + self.rng.choice(VOWELS[:6]) + self.rng.choice(ONSETS).lower() + self.rng.choice(VOWELS[:5])
            surname = stem + self.rng.choice(["нко", "нчук", "щук", "вський", "рчук", "ль"])
        if self.rng.random() < 0.5:
            first, patronymic, _ = self.rng.choice(MEN)
        else:
            first, patronymic = self.rng.choice(WOMEN), self.rng.choice(MEN)[2]
        return f"{surname} {first} {patronymic}", True

    def _new_org(self, kind: str, form: str, core: str, currency: str, country: str = "UA", tax: str | None = None) -> Org:
        org = Org(f"org-{len(self.orgs) + 1:06d}", kind, form, core, tax, currency, country=country)
        if kind == "foreign":
            org.ibans = [foreign_account(self.rng, country)]
        elif self.rng.random() < 0.85:
            balance = "2600" if kind == "company" else self.rng.choice(["2600", "2620"])
            org.ibans = [ua_account(self.rng, balance) for _ in range(self.rng.choice([1, 1, 1, 2]))]
        if self.rng.random() < 0.1:
            org.learned_iban = ua_account(self.rng, "2625")  # a director's card, confirmed once
        self.orgs.append(org)
        return org

    def _build(self, n_orgs: int, invoices_per_org: tuple[int, int]) -> None:
        rng = self.rng
        while len(self.orgs) < n_orgs:
            roll = rng.random()
            if roll < 0.06:
                base, form, country = rng.choice(FOREIGN)
                core = base
                for attempt in range(40):
                    if core.upper() not in self._cores:
                        break
                    if attempt < 20:
                        core = f"{base} {rng.choice(FOREIGN_WORDS)}" + (f" {rng.choice(FOREIGN_WORDS)}" if rng.random() < 0.5 else "")
                    else:  # a made-up brand once the word combinations run out
                        core = f"{translit(self._core().split()[0], popular=True).title()} {rng.choice(FOREIGN_WORDS)}"
                self._cores.add(core.upper())
                self._new_org("foreign", form, core, rng.choice(["USD", "EUR"]), country)
            elif roll < 0.26:
                core, _ = self._person()
                org = self._new_org("fop", "ФОП", core, "UAH", tax=self._tax(person=True))
                namesake = self._persons.get(core.upper())
                if namesake:  # namesakes happen: a name that no longer singles anyone out
                    self.twins.update({namesake.org_id, org.org_id})
                self._persons[core.upper()] = org
            else:
                form = rng.choices(["ТОВ", "ПП", "ПрАТ"], [0.8, 0.15, 0.05])[0]
                currency = "USD" if rng.random() < 0.04 else "UAH"
                org = self._new_org("company", form, self._core(), currency, tax=self._tax(person=False))
                if rng.random() < 0.05 and len(self.orgs) < n_orgs:
                    suffix = rng.choice([w for w in ["Плюс", "Україна", "Груп", "Сервіс", "Трейд"] if w not in org.core])
                    sibling_core = f"{org.core} {suffix}"
                    if sibling_core.upper() not in self._cores:
                        self._cores.add(sibling_core.upper())
                        sibling = self._new_org("company", form, sibling_core, "UAH", tax=self._tax(person=False))
                        self.similar.append((org, sibling))
                elif rng.random() < 0.02 and len(self.orgs) < n_orgs:
                    twin = self._new_org("company", "ПП" if form != "ПП" else "ТОВ", org.core, "UAH", tax=self._tax(person=False))
                    self.shared_names.append((org, twin))
                    self.twins.update({org.org_id, twin.org_id})
        for org in self.orgs:
            for _ in range(rng.randint(*invoices_per_org)):
                self._invoice(org)

    def _invoice(self, org: Org, status: str | None = None) -> dict:
        rng = self.rng
        self._invoice_seq += 1
        issued = self.start + timedelta(days=rng.randint(0, 50))
        if org.currency == "UAH":
            amount = Decimal(rng.choice(UAH_TARIFFS)) if rng.random() < 0.5 else Decimal(rng.randint(30000, 2500000)) / 100
        else:
            amount = Decimal(rng.choice(FX_TARIFFS)) if rng.random() < 0.5 else Decimal(rng.randint(4000, 300000)) / 100
        status = status or rng.choices(["open", "partially_paid", "paid", "cancelled"], self.status_weights)[0]
        paid = {"open": Decimal(0), "cancelled": Decimal(0), "paid": amount,
                "partially_paid": (amount * Decimal(rng.randint(20, 60)) / 100).quantize(Decimal("0.01"))}[status]
        invoice = dict(invoice_number=f"{issued.year}-{self._invoice_seq:05d}", org_id=org.org_id, issued_on=issued,
                       due_on=issued + timedelta(days=rng.choice([5, 10, 14])), currency=org.currency, amount=amount,
                       status=status, amount_paid=paid)
        org.invoices.append(invoice)
        return invoice

    # spellings ------------------------------------------------------------------------------------
    def spell(self, org: Org, style: str | None = None, core: str | None = None) -> str:
        """How a bank statement might show the organization as payer (`core` replaces its brand).

        In a stream, a payer's bank shows the same registered name every time (mostly): the
        first spelling drawn for an organization is kept and reused 85% of the time."""
        if self.registered is not None and style is None and core is None:
            known = self.registered.get(org.org_id)
            if known is not None and self.rng.random() < 0.85:
                return known
            spelled = self._spell(org)
            self.registered.setdefault(org.org_id, spelled)
            return spelled
        return self._spell(org, style, core)

    def _spell(self, org: Org, style: str | None = None, core: str | None = None) -> str:
        rng = self.rng
        if core is not None:
            org = Org(org.org_id, org.kind, org.form, core, org.tax_id, org.currency, country=org.country)
        if org.kind == "foreign":
            return rng.choice([org.name, org.name.upper(), org.core])
        styles = ["display", "legal", "upper", "short_quotes"]
        style = style or rng.choice(styles)
        if org.kind == "fop":
            core = org.core.upper() if style != "display" else org.core
            return {"display": org.name, "legal": org.legal_name, "upper": f"ФОП {core}",
                    "short_quotes": core, "latin": f"FOP {translit(org.core)}",
                    "popular": f"{rng.choice(['FOP', 'PE'])} {translit(org.core, popular=True)}"}[style]
        quotes = rng.choice([("«", "»"), ('"', '"'), ("“", "”"), ("", "")])
        core = org.core.upper()
        latin_form = rng.choice(LATIN_FORM[org.form])
        def latin(name: str) -> str:
            return latin_form.format(name) if "{}" in latin_form else f"{latin_form} {name}"
        return {"display": org.name, "legal": org.legal_name, "upper": f"{org.form.upper()} {quotes[0]}{core}{quotes[1]}",
                "short_quotes": f"{org.form} {quotes[0]}{org.core}{quotes[1]}",
                "latin": latin(translit(org.core)), "popular": latin(translit(org.core, popular=True))}[style]

    def typo(self, text: str) -> str:
        """One slip in the longest word: a letter dropped, doubled, swapped or replaced."""
        words = text.split(" ")
        i = max(range(len(words)), key=lambda k: len(words[k]))
        word = words[i]
        if len(word) < 6:
            return text
        p = self.rng.randint(2, len(word) - 2)
        kind = self.rng.choice(["drop", "double", "swap", "replace"])
        if kind == "drop":
            word = word[:p] + word[p + 1:]
        elif kind == "double":
            word = word[:p] + word[p] + word[p:]
        elif kind == "swap":
            word = word[:p] + word[p + 1] + word[p] + word[p + 2:]
        else:
            cyrillic = "АБВГДЕЖЗИІКЛМНОПРСТУФХЦЧШ"
            pool = cyrillic if "А" <= word[p].upper() <= "Я" or word[p].upper() in "ІЇЄҐ" else "ABCDEFGHIKLMNOPRSTUVZ"
            pool = pool if word[p].isupper() else pool.lower()
            word = word[:p] + self.rng.choice([c for c in pool if c != word[p]]) + word[p + 1:]
        words[i] = word
        return " ".join(words)

    # lines ------------------------------------------------------------------------------------------
    def _line(self, org: Org | None, pattern: str, amount: Decimal, text: str, *, name=None, account=None, tax=None,
              booked: date | None = None, currency: str | None = None, ultimate_name=None, ultimate_tax=None,
              paid_invoices: list[str] | None = None, true_org: str | None | bool = True) -> tuple[dict, dict]:
        self._line_seq += 1
        line_id = f"L{self._line_seq:07d}"
        identifiable, expect, _ = PATTERNS[pattern]
        line = dict(line_id=line_id, amount=amount, currency=currency or (org.currency if org else "UAH"),
                    booking_date=booked or self.start + timedelta(days=self.rng.randint(30, 60)),
                    counterparty_name=name, counterparty_account=account, counterparty_tax_id=tax, remittance=text,
                    ultimate_payer_name=ultimate_name, ultimate_payer_tax_id=ultimate_tax)
        label = dict(line_id=line_id, pattern=pattern, true_org=(org.org_id if org and true_org is True else None),
                     identifiable=identifiable, expect=expect, invoices=";".join(paid_invoices or []) or None)
        return line, label

    def _paying_date(self, invoice: dict) -> date:
        return invoice["issued_on"] + timedelta(days=self.rng.randint(0, 20))

    def _vat_text(self, amount: Decimal) -> str:
        vat = (amount / 6).quantize(Decimal("0.01"))
        return self.rng.choice([f", у т.ч. ПДВ 20% — {vat} грн.", f" у т.ч. ПДВ {vat}", "", " без ПДВ", ", ПДВ не передбачено"])

    def _unregistered_account(self, org: Org, make) -> str:
        """An account the billing system does not know. In a stream a payer keeps paying from the
        same one or two accounts (the first payment teaches it); in an evaluation each is new."""
        if self.registered is None:
            return make()
        accounts = self._other_accounts.setdefault(org.org_id, [])
        if len(accounts) < 2 and (not accounts or self.rng.random() < 0.1):
            accounts.append(make())
        return self.rng.choice(accounts)

    def _domestic_payer(self, org: Org, with_tax: bool = True, known_account: bool = False) -> dict:
        account = (self.rng.choice(org.ibans) if known_account and org.ibans
                   else self._unregistered_account(org, lambda: ua_account(self.rng, "2600")))
        return dict(name=self.spell(org), account=account, tax=org.tax_id if with_tax else None)

    def _foreign_payer(self, org: Org) -> dict:
        country = org.country if org.kind == "foreign" else self.rng.choice(["DE", "PL", "EE"])
        return dict(name=self.spell(org, self.rng.choice(["latin", "popular"])) if org.kind != "foreign" else self.spell(org),
                    account=self._unregistered_account(org, lambda: foreign_account(self.rng, country)), tax=None)

    # pools ----------------------------------------------------------------------------------------
    def _pools(self) -> None:
        if hasattr(self, "_open"):
            return
        self._by_id = {o.org_id: o for o in self.orgs}
        self._open = [(o, inv) for o in self.orgs for inv in o.invoices if inv["status"] in ("open", "partially_paid")]
        self.rng.shuffle(self._open)
        self._used: set[str] = set()
        self._amount_count: dict[tuple[str, Decimal], int] = {}
        for _, inv in self._open:
            key = (inv["currency"], inv["amount"] - inv["amount_paid"])
            self._amount_count[key] = self._amount_count.get(key, 0) + 1

    def _take(self, accept=lambda org, inv: True, tries: int = 400) -> tuple[Org, dict] | None:
        """An open invoice no other line has used yet (so labels stay unambiguous)."""
        self._pools()
        for _ in range(tries):
            if not self._open:
                return None
            i = self.rng.randrange(len(self._open))
            org, inv = self._open[i]
            if inv["invoice_number"] in self._used:
                self._open[i] = self._open[-1]
                self._open.pop()
                continue
            if accept(org, inv):
                self._used.add(inv["invoice_number"])
                self._open[i] = self._open[-1]
                self._open.pop()
                return org, inv
        return None

    def _unused_open(self, org: Org) -> list[dict]:
        return [i for i in org.invoices if i["status"] in ("open", "partially_paid") and i["invoice_number"] not in self._used]

    def _org(self, accept) -> Org | None:
        for _ in range(400):
            org = self.rng.choice(self.orgs)
            if accept(org):
                return org
        return None

    @staticmethod
    def _remaining(inv: dict) -> Decimal:
        return inv["amount"] - inv["amount_paid"]

    def _topup_amount(self) -> Decimal:
        if self.rng.random() < 0.6:
            return Decimal(self.rng.choice([500, 1000, 1500, 2000, 3000, 5000, 10000, 20000]))
        return Decimal(self.rng.randint(10000, 5000000)) / 100

    def _date_text(self, inv: dict) -> str:
        return inv["issued_on"].strftime("%d.%m.%Y")

    # patterns -------------------------------------------------------------------------------------
    def _invoice_text(self, pattern: str, inv: dict, number: str | None = None) -> str:
        n, d = number or inv["invoice_number"], self._date_text(inv)
        vat = self._vat_text(inv["amount"])
        choices = {
            "invoice_ua": [f"Оплата за рахунком № {n} від {d}{vat}", f"Оплата згідно рах. №{n} від {d}{vat}",
                           f"Сплата рахунку-фактури {n} від {d}{vat}", f"оплата по рахунку {n} за послуги розсилок",
                           f"Передплата за послуги згідно рахунку № {n}", f"За інформаційні послуги, рах.{n}{vat}",
                           f"Оплата рахунку-фактури №{n}"],
            "invoice_ru": [f"Оплата по счету № {n} от {d}", f"Оплата согласно сч. {n}", f"Оплата по сч.№{n}, в т.ч. НДС 20%",
                           f"Оплата за услуги рассылки по счету-фактуре {n}", f"Предоплата по счету {n} от {d}"],
            "invoice_en": [f"Payment for invoice {n}", f"INV {n}", f"Invoice #{n} messaging services", f"inv.{n} SMS/Viber",
                           f"Invoice No. {n} dated {d}", f"Payment inv {n}"],
        }
        return self.rng.choice(choices[pattern])

    def invoice_ua(self, pattern: str = "invoice_ua"):
        got = self._take(lambda o, i: o.kind != "foreign")
        if not got:
            return None
        org, inv = got
        payer = self._domestic_payer(org, with_tax=self.rng.random() < 0.4)
        return [self._line(org, pattern, self._remaining(inv), self._invoice_text(pattern, inv), booked=self._paying_date(inv),
                           paid_invoices=[inv["invoice_number"]], **payer)]

    def invoice_ru(self):
        return self.invoice_ua("invoice_ru")

    def invoice_en(self):
        return self.invoice_ua("invoice_en")

    def _number_variant(self, number: str) -> str:
        year, seq = number.split("-")
        return self.rng.choice([f"{year} {seq}", f"{year}-{int(seq)}", f"{year}{seq}", f"{year}/{seq}", f"{year} - {seq}",
                                f"№{year}-0{seq}", f"{year}_{seq}", f"{year}/{int(seq)}", f"{year}–{seq}"])

    def invoice_formats(self):
        got = self._take(lambda o, i: o.kind != "foreign")
        if not got:
            return None
        org, inv = got
        variant = self._number_variant(inv["invoice_number"])
        text = self.rng.choice([f"Оплата рах. {variant}", f"invoice {variant}", f"{variant}", f"Оплата за послуги {variant} без ПДВ",
                                f"згідно рахунку {variant} від {self._date_text(inv)}"])
        payer = self._domestic_payer(org, with_tax=False)
        return [self._line(org, "invoice_formats", self._remaining(inv), text, booked=self._paying_date(inv),
                           paid_invoices=[inv["invoice_number"]], **payer)]

    def invoice_lookalike(self):
        got = self._take(lambda o, i: o.kind == "company" and "0" in i["invoice_number"])
        if not got:
            return None
        org, inv = got
        number = inv["invoice_number"].replace("0", "О")  # Cyrillic О for every zero
        text = self.rng.choice([f"Oплата за рахунком № {number}", f"ІNV {number}", f"Рaхунок {number} оплата", f"рах. {number}"])
        payer = self._domestic_payer(org, with_tax=False)
        core = org.core.upper()
        mixed = core.translate(str.maketrans("АВСЕНІКМОРТХ", "ABCEHIKMOPTX"))  # Latin look-alikes typed into the name
        if mixed != core:
            payer["name"] = f"{org.form} «{mixed[: len(mixed) // 2] + core[len(core) // 2:]}»"
        return [self._line(org, "invoice_lookalike", self._remaining(inv), text, booked=self._paying_date(inv),
                           paid_invoices=[inv["invoice_number"]], **payer)]

    def invoice_ocr(self):
        got = self._take(lambda o, i: o.kind != "foreign" and ("0" in i["invoice_number"] or "1" in i["invoice_number"]))
        if not got:
            return None
        org, inv = got
        digits = list(inv["invoice_number"])
        slots = [k for k, c in enumerate(digits) if c in "01"]
        for k in self.rng.sample(slots, min(len(slots), self.rng.choice([1, 2]))):
            digits[k] = self.rng.choice(["O", "o"]) if digits[k] == "0" else self.rng.choice(["l", "I"])
        text = self.rng.choice([f"Оплата за рахунком № {''.join(digits)}", f"рах {''.join(digits)}", f"Invoice {''.join(digits)}"])
        payer = self._domestic_payer(org, with_tax=False)
        return [self._line(org, "invoice_ocr", self._remaining(inv), text, booked=self._paying_date(inv),
                           paid_invoices=[inv["invoice_number"]], **payer)]

    def _generic_text(self) -> str:
        return self.rng.choice(["Поповнення балансу", "Передплата за послуги розсилок згідно договору № 45/21",
                                "Оплата за послуги", "Поповнення особового рахунку", "Оплата за інформаційні послуги без ПДВ",
                                "Предоплата за услуги", "Top up", "Оплата послуг SMS та Viber розсилок"])

    def tax_id_field(self):
        org = self._org(lambda o: o.kind == "company")
        payer = self._domestic_payer(org, with_tax=True, known_account=self.rng.random() < 0.5)
        return [self._line(org, "tax_id_field", self._topup_amount(), self._generic_text(), **payer)]

    def tax_id_text(self):
        org = self._org(lambda o: o.kind == "company" and o.currency == "UAH")
        payer = self._domestic_payer(org, with_tax=False)
        payer["name"] = self.spell(org, self.rng.choice(["display", "upper", "short_quotes", "legal"]))
        text = self.rng.choice([f"Поповнення балансу, ЄДРПОУ {org.tax_id}", f"Оплата за послуги, код {org.tax_id}",
                                f"Передплата, код ЄДРПОУ: {org.tax_id}", f"за {org.name}, ідент. код {org.tax_id}"])
        return [self._line(org, "tax_id_text", self._topup_amount(), text, **payer)]

    def fop_rnokpp(self):
        org = self._org(lambda o: o.kind == "fop")
        account = (self.rng.choice(org.ibans) if org.ibans and self.rng.random() < 0.5
                   else self._unregistered_account(org, lambda: ua_account(self.rng, "2620")))
        name = self.spell(org, self.rng.choice(["display", "legal", "upper", "short_quotes"]))
        return [self._line(org, "fop_rnokpp", self._topup_amount(), self._generic_text(), name=name, account=account,
                           tax=org.tax_id)]

    def iban_imported(self):
        org = self._org(lambda o: bool(o.ibans) and o.kind != "foreign")
        name = self.spell(org) if self.rng.random() < 0.8 else None
        return [self._line(org, "iban_imported", self._topup_amount(), self._generic_text(), name=name,
                           account=self.rng.choice(org.ibans), currency=org.currency)]

    def iban_learned(self):
        org = self._org(lambda o: o.learned_iban is not None)
        if org is None:
            return None
        director = org.learned_name or self._person()[0]
        return [self._line(org, "iban_learned", self._topup_amount(), self._generic_text(), name=director.upper(),
                           account=org.learned_iban, currency=org.currency)]

    def _amount_payment(self, pattern: str, spell_style, accept=lambda o, i: True):
        got = self._take(lambda o, i: o.kind != "fop" and accept(o, i))
        if not got:
            return None
        org, inv = got
        payer = self._foreign_payer(org) if org.currency != "UAH" else self._domestic_payer(org, with_tax=False)
        payer["name"] = spell_style(org)
        text = self.rng.choice(["Payment for services", "messaging services", "Оплата за послуги", "top-up", "services November"])
        return [self._line(org, pattern, self._remaining(inv), text, booked=self._paying_date(inv),
                           paid_invoices=[inv["invoice_number"]], **payer)]

    def name_translit(self):
        return self._amount_payment("name_translit", lambda o: self.spell(o, self.rng.choice(["latin", "popular"])) if o.kind != "foreign" else self.spell(o),
                                    lambda o, i: o.org_id not in self.twins)

    def name_fuzzy(self):
        def spelled(org: Org) -> str:
            return self.spell(org, self.rng.choice(["latin", "upper", "display"]), core=self.typo(org.core))
        return self._amount_payment("name_fuzzy", spelled,
                                    lambda o, i: max(len(w) for w in o.core.split()) >= 7 and o.org_id not in self.twins)

    def fee_short(self):
        got = self._take(lambda o, i: o.currency in ("USD", "EUR") and (i["amount"] - i["amount_paid"]) >= 49)
        if not got:
            return None
        org, inv = got
        remaining = self._remaining(inv)
        fee = Decimal(self.rng.randint(500, int(min(Decimal(30), remaining / 5) * 100))) / 100
        text = self._invoice_text("invoice_en", inv)
        return [self._line(org, "fee_short", remaining - fee, text, booked=self._paying_date(inv),
                           paid_invoices=[inv["invoice_number"]], **self._foreign_payer(org))]

    def partial(self):
        got = self._take(lambda o, i: o.kind != "foreign")
        if not got:
            return None
        org, inv = got
        amount = (self._remaining(inv) * Decimal(self.rng.randint(30, 70)) / 100).quantize(Decimal("0.01"))
        payer = self._domestic_payer(org, with_tax=self.rng.random() < 0.5)
        text = self._invoice_text(self.rng.choice(["invoice_ua", "invoice_ru"]), inv) + ", часткова оплата"
        return [self._line(org, "partial", amount, text, booked=self._paying_date(inv), paid_invoices=[inv["invoice_number"]], **payer)]

    def partial_two(self):
        got = self._take(lambda o, i: o.kind != "foreign")
        if not got:
            return None
        org, inv = got
        remaining = self._remaining(inv)
        first = (remaining * Decimal(self.rng.randint(30, 70)) / 100).quantize(Decimal("0.01"))
        payer = self._domestic_payer(org, with_tax=self.rng.random() < 0.5)
        day = self._paying_date(inv)
        return [self._line(org, "partial_two", first, self._invoice_text("invoice_ua", inv), booked=day,
                           paid_invoices=[inv["invoice_number"]], **payer),
                self._line(org, "partial_two", remaining - first, f"Доплата за рахунком № {inv['invoice_number']}",
                           booked=day + timedelta(days=self.rng.randint(1, 5)), paid_invoices=[inv["invoice_number"]], **payer)]

    def overpayment(self):
        got = self._take(lambda o, i: o.kind != "foreign")
        if not got:
            return None
        org, inv = got
        amount = (self._remaining(inv) * Decimal(self.rng.randint(110, 200)) / 100).quantize(Decimal("0.01"))
        payer = self._domestic_payer(org, with_tax=self.rng.random() < 0.5)
        return [self._line(org, "overpayment", amount, self._invoice_text("invoice_ua", inv), booked=self._paying_date(inv),
                           paid_invoices=[inv["invoice_number"]], **payer)]

    def _several(self, minimum: int = 2):
        got = self._take(lambda o, i: o.kind != "foreign" and len(self._unused_open(o)) >= minimum)
        if not got:
            return None
        org, first = got
        others = self._unused_open(org)
        chosen = [first] + self.rng.sample(others, min(len(others), self.rng.randint(minimum - 1, 2)))
        chosen = [c for c in chosen if c["currency"] == first["currency"]]
        for c in chosen:
            self._used.add(c["invoice_number"])
        return org, sorted(chosen, key=lambda c: c["invoice_number"])

    def combined_numbers(self):
        got = self._several()
        if not got:
            return None
        org, chosen = got
        numbers = [c["invoice_number"] for c in chosen]
        text = self.rng.choice([f"Оплата рах. {', '.join(numbers)}", f"рахунки № {' та № '.join(numbers)}",
                                f"invoices {'; '.join(numbers)}", f"Оплата по счетам {', '.join(numbers)}"])
        payer = self._domestic_payer(org, with_tax=self.rng.random() < 0.5)
        booked = max(c["issued_on"] for c in chosen) + timedelta(days=self.rng.randint(0, 5))
        return [self._line(org, "combined_numbers", sum(self._remaining(c) for c in chosen), text, booked=booked,
                           paid_invoices=numbers, **payer)]

    def combined_amount(self):
        got = self._several()
        if not got:
            return None
        org, chosen = got
        if org.kind != "company":
            org_payer = self._domestic_payer(org, with_tax=True)
        else:
            org_payer = self._domestic_payer(org, with_tax=True)
        booked = max(c["issued_on"] for c in chosen) + timedelta(days=self.rng.randint(0, 5))
        text = self.rng.choice(["Оплата за послуги згідно рахунків", "Оплата рахунків за листопад", "Payment for invoices"])
        return [self._line(org, "combined_amount", sum(self._remaining(c) for c in chosen), text, booked=booked,
                           paid_invoices=[c["invoice_number"] for c in chosen], **org_payer)]

    def transit(self):
        got = self._take(lambda o, i: o.kind != "foreign")
        if not got:
            return None
        org, inv = got
        bank, bank_tax, mfo = self.rng.choice(BANKS)
        name = self.rng.choice([f"{bank} транзитний рахунок", f"{bank}", "Транзитний рахунок для зарахування платежів"])
        account = ua_account(self.rng, self.rng.choice(["2909", "2924"]), mfo)
        n = inv["invoice_number"]
        if self.rng.random() < 0.5:
            text = f"Оплата за рахунком № {n}"
            ultimate = dict(ultimate_name=self.spell(org), ultimate_tax=org.tax_id)
        else:
            text = self.rng.choice([f"Платник: {self.spell(org)}, код {org.tax_id}; оплата за рахунком № {n}",
                                    f"{self.spell(org)} ІПН {org.tax_id} рах {n}"])
            ultimate = {}
        return [self._line(org, "transit", self._remaining(inv), text, name=name, account=account, tax=bank_tax,
                           booked=self._paying_date(inv), paid_invoices=[n], **ultimate)]

    def similar_names(self):
        if not self.similar:
            return None
        org = self.rng.choice(self.rng.choice(self.similar))
        if org.org_id in self.twins:
            return None
        open_ = [i for i in self._unused_open(org) if i["currency"] == org.currency]
        if not open_:
            return None
        inv = self.rng.choice(open_)
        self._used.add(inv["invoice_number"])
        payer = self._domestic_payer(org, with_tax=False)
        payer["name"] = self.spell(org, self.rng.choice(["display", "upper", "short_quotes", "latin"]))
        return [self._line(org, "similar_names", self._remaining(inv), "Оплата за послуги", booked=self._paying_date(inv),
                           paid_invoices=[inv["invoice_number"]], **payer)]

    def cancelled_invoice(self):
        org = self._org(lambda o: o.kind == "company" and any(i["status"] == "cancelled" for i in o.invoices))
        if org is None:
            return None
        inv = next(i for i in org.invoices if i["status"] == "cancelled")
        payer = self._domestic_payer(org, with_tax=True)
        return [self._line(org, "cancelled_invoice", inv["amount"], self._invoice_text("invoice_ua", inv),
                           booked=self._paying_date(inv), **payer)]

    def shared_name(self):
        if not self.shared_names:
            return None
        org = self.rng.choice(self.rng.choice(self.shared_names))
        open_ = [i for i in self._unused_open(org) if i["currency"] == org.currency]
        if not open_:
            return None
        inv = self.rng.choice(open_)
        self._used.add(inv["invoice_number"])
        payer = dict(name=org.core.upper(), account=ua_account(self.rng), tax=None)
        return [self._line(org, "shared_name", self._remaining(inv), "Оплата за послуги", booked=self._paying_date(inv),
                           paid_invoices=[inv["invoice_number"]], **payer)]

    def name_only_topup(self):
        org = self._org(lambda o: o.kind == "company" and o.currency == "UAH")
        payer = self._domestic_payer(org, with_tax=False)
        payer["name"] = self.spell(org, self.rng.choice(["display", "upper", "short_quotes"]))
        amount = Decimal(self.rng.randint(100000, 900000)) / 100 + Decimal("0.37")
        return [self._line(org, "name_only_topup", amount, "Поповнення балансу", **payer)]

    def conflict_invoice_vs_tax(self):
        got = self._take(lambda o, i: o.kind == "company")
        if not got:
            return None
        org, inv = got
        other = self._org(lambda o: o.kind == "company" and o is not org)
        payer = self._domestic_payer(other, with_tax=True)
        return [self._line(org, "conflict_invoice_vs_tax", self._remaining(inv), self._invoice_text("invoice_ua", inv),
                           booked=self._paying_date(inv), paid_invoices=[inv["invoice_number"]], **payer)]

    def conflict_double_claim(self):
        got = self._take(lambda o, i: o.kind != "foreign" and i["status"] == "open")
        if not got:
            return None
        org, inv = got
        payer = self._domestic_payer(org, with_tax=True)
        day = self._paying_date(inv)
        return [self._line(org, "conflict_double_claim", self._remaining(inv), self._invoice_text("invoice_ua", inv),
                           booked=day, paid_invoices=[inv["invoice_number"]], **payer),
                self._line(org, "conflict_double_claim", self._remaining(inv), self._invoice_text("invoice_ua", inv),
                           booked=day + timedelta(days=1), paid_invoices=[inv["invoice_number"]], **payer)]

    def conflict_paid_invoice(self):
        org = self._org(lambda o: o.kind != "foreign" and any(i["status"] == "paid" for i in o.invoices))
        if org is None:
            return None
        inv = next(i for i in org.invoices if i["status"] == "paid")
        payer = self._domestic_payer(org, with_tax=True)
        return [self._line(org, "conflict_paid_invoice", inv["amount"], self._invoice_text("invoice_ua", inv),
                           booked=self._paying_date(inv), paid_invoices=[inv["invoice_number"]], **payer)]

    def conflict_person_for_company(self):
        got = self._take(lambda o, i: o.kind == "company" and o.currency == "UAH")
        if not got:
            return None
        org, inv = got
        person = self._person()[0]
        text = self.rng.choice([f"Оплата за {org.name} згідно рах. № {inv['invoice_number']}",
                                f"За {self.spell(org, 'short_quotes')} рахунок {inv['invoice_number']}",
                                f"Оплата рахунку {inv['invoice_number']} від {self._date_text(inv)}"])
        return [self._line(org, "conflict_person_for_company", self._remaining(inv), text, name=person.upper(),
                           account=ua_account(self.rng, self.rng.choice(["2620", "2625"])),
                           tax=rnokpp(self.rng) if self.rng.random() < 0.5 else None, booked=self._paying_date(inv),
                           paid_invoices=[inv["invoice_number"]])]

    def currency_mismatch(self):
        got = self._take(lambda o, i: o.kind == "company" and o.currency == "USD")
        if not got:
            return None
        org, inv = got
        payer = self._domestic_payer(org, with_tax=True)
        amount = (self._remaining(inv) * Decimal("41.30")).quantize(Decimal("0.01"))
        return [self._line(org, "currency_mismatch", amount, self._invoice_text("invoice_ua", inv), currency="UAH",
                           booked=self._paying_date(inv), **payer)]

    def unknown_payer(self):
        self._pools()
        got = self._take(lambda o, i: o.kind == "company" and o.currency == "UAH"
                         and self._amount_count.get((i["currency"], i["amount"] - i["amount_paid"]), 0) == 1)
        if not got:
            return None
        org, inv = got
        return [self._line(org, "unknown_payer", self._remaining(inv), self.rng.choice(["Поповнення балансу", "оплата послуг"]),
                           name=self._person()[0].upper(), account=ua_account(self.rng, "2625"),
                           booked=self._paying_date(inv), paid_invoices=[inv["invoice_number"]])]

    def unrelated_interest(self):
        bank, tax, mfo = self.rng.choice(BANKS)
        text = self.rng.choice(["Нарахування відсотків на залишок коштів за листопад 2026", "Проценты на остаток по счету за 10.2026",
                                "Interest capitalization 11/2026", "Виплата відсотків за депозитом № 55-2026"])
        amount = Decimal(self.rng.randint(100, 500000)) / 100
        return [self._line(None, "unrelated_interest", amount, text, name=bank, account=ua_account(self.rng, "7020", mfo),
                           tax=tax, true_org=None)]

    def unrelated_refund(self):
        supplier = f"ТОВ «{self._core()}»"
        text = self.rng.choice([f"Повернення передоплати за договором № {self.rng.randint(1, 300)}/2026",
                                "Возврат излишне перечисленных средств", "Refund of overpayment, order 7781",
                                "Повернення коштів за невикористані послуги"])
        return [self._line(None, "unrelated_refund", Decimal(self.rng.randint(1000, 900000)) / 100, text, name=supplier,
                           account=ua_account(self.rng), tax=self._tax(person=False), true_org=None)]

    def unrelated_return(self):
        org = self._org(lambda o: bool(o.ibans) and o.kind != "foreign")
        text = self.rng.choice(["Повернення коштів: рахунок отримувача закрито",
                                f"Повернення платежу № {self.rng.randint(100, 999)}: невірні реквізити отримувача",
                                "Return of funds: beneficiary account closed"])
        return [self._line(org, "unrelated_return", Decimal(self.rng.randint(1000, 900000)) / 100, text, name=self.spell(org),
                           account=self.rng.choice(org.ibans), tax=org.tax_id, currency="UAH", true_org=None)]

    # assembling -----------------------------------------------------------------------------------
    def _frames(self, rows: list[tuple[dict, dict]], outgoing: int = 0) -> EvalData:
        lines = [line for line, _ in rows]
        labels = [label for _, label in rows]
        for _ in range(outgoing):  # our own payments out: the engine must ignore them
            self._line_seq += 1
            lines.append(dict(line_id=f"L{self._line_seq:07d}", amount=-Decimal(self.rng.randint(100, 100000)) / 100,
                              currency="UAH", booking_date=self.start + timedelta(days=40), counterparty_name="ТОВ «Київстар»",
                              counterparty_account=ua_account(self.rng), counterparty_tax_id=None,
                              remittance="Оплата за послуги зв'язку", ultimate_payer_name=None, ultimate_payer_tax_id=None))
        organizations = pd.DataFrame(
            [dict(org_id=o.org_id, name=o.name, legal_name=o.legal_name, tax_id=o.tax_id, currency=o.currency) for o in self.orgs]
        )
        ibans = [dict(org_id=o.org_id, iban=i, origin="imported") for o in self.orgs for i in o.ibans]
        ibans += [dict(org_id=o.org_id, iban=o.learned_iban, origin="learned") for o in self.orgs if o.learned_iban]
        names = [dict(org_id=o.org_id, name=o.learned_name) for o in self.orgs if o.learned_name]
        invoices = pd.DataFrame([inv for o in self.orgs for inv in o.invoices])
        return EvalData(organizations, pd.DataFrame(ibans, columns=["org_id", "iban", "origin"]),
                        pd.DataFrame(names, columns=["org_id", "name"]), invoices,
                        pd.DataFrame(lines), pd.DataFrame(labels))

    def _learn_directors(self) -> None:
        for org in self.orgs:
            if org.learned_iban and org.learned_name is None:
                org.learned_name = self._person()[0].upper()

    def evaluation(self, per_pattern: int = 40) -> EvalData:
        """Every pattern `per_pattern` times (a pattern that makes pairs makes twice as many lines)."""
        self._learn_directors()
        rows: list[tuple[dict, dict]] = []
        for pattern in PATTERNS:
            made = 0
            for _ in range(per_pattern * 5):
                if made >= per_pattern:
                    break
                out = getattr(self, pattern)()
                if out:
                    rows += out
                    made += 1
        return self._frames(rows, outgoing=per_pattern // 4)

    def stream(self, n_lines: int) -> EvalData:
        """A realistic mix of `n_lines` lines; invoice patterns fall back to top-ups once the open
        invoices run out (a million lines against 200k open invoices are mostly top-ups)."""
        self._learn_directors()
        self.registered = {}
        names = list(PATTERNS)
        weights = [PATTERNS[n][2] for n in names]
        fallbacks = ["tax_id_field", "iban_imported", "fop_rnokpp"]
        rows: list[tuple[dict, dict]] = []
        while len(rows) < n_lines:
            pattern = self.rng.choices(names, weights)[0]
            out = getattr(self, pattern)() or getattr(self, self.rng.choice(fallbacks))()
            rows += out
        return self._frames(rows[:n_lines])

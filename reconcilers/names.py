"""Payer and organization names: one normal form across scripts, legal forms and spellings.

"ТОВ «Ромашка»", "ТОВАРИСТВО З ОБМЕЖЕНОЮ ВІДПОВІДАЛЬНІСТЮ "РОМАШКА"" and "TOV ROMASHKA LLC" must
meet. A name is

1. upper-cased; in a word that mixes scripts, Latin look-alikes become Cyrillic ("PОМАШКА" typed
   with a Latin P is "РОМАШКА");
2. transliterated with the Ukrainian national system (Cabinet of Ministers resolution 55 of
   2010: Г->H, Ґ->G, Х->KH, Щ->SHCH, "ЗГ"->"ZGH"; Є/Ї/Й/Ю/Я are YE/YI/Y/YU/YA at the start of a
   word and IE/I/I/IU/IA inside it; the soft sign and apostrophes vanish), with Russian letters
   added (Ы, Э, Ё, Ъ), so every name is in Latin letters;
3. stripped of legal forms in any of the three languages (ТОВ, ТзОВ, ФОП, ПП, ПрАТ, LLC, LTD,
   "ТОВАРИСТВО З ОБМЕЖЕНОЮ ВІДПОВІДАЛЬНІСТЮ", ...), quotes and punctuation;
4. split into words, which are sorted, so word order does not matter.

That is the *key*: equal keys are an exact name match. For the fuzzy side, `fold` also merges
what other transliterations spell differently (KH/H, TS/C, Y/I, YA/IA/A, G/H, doubled letters), and
`similarity` compares folded keys by the Indel distance (insertions and deletions), the measure
rapidfuzz calls `fuzz.ratio`, computed here with exact integers so every machine decides alike.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import numpy as np

_CYRILLIC = "АБВГҐДЕЄЖЗИІЇЙКЛМНОПРСТУФХЦЧШЩЬЮЯЫЭЁЪ"
_LATIN_TO_CYRILLIC = str.maketrans("ABCEHIKMOPTXY", "АВСЕНІКМОРТХУ")
_WORD = re.compile(rf"[A-Z{_CYRILLIC}'’ʼ`]+")
_INITIAL = re.compile(rf"(?<![{_CYRILLIC}'’ʼ`])([ЄЇЙЮЯ])")
_INITIAL_FORMS = {"Є": "YE", "Ї": "YI", "Й": "Y", "Ю": "YU", "Я": "YA"}
_TRANSLIT = str.maketrans(
    {
        "А": "A", "Б": "B", "В": "V", "Г": "H", "Ґ": "G", "Д": "D", "Е": "E", "Є": "IE", "Ж": "ZH",
        "З": "Z", "И": "Y", "І": "I", "Ї": "I", "Й": "I", "К": "K", "Л": "L", "М": "M", "Н": "N",
        "О": "O", "П": "P", "Р": "R", "С": "S", "Т": "T", "У": "U", "Ф": "F", "Х": "KH", "Ц": "TS",
        "Ч": "CH", "Ш": "SH", "Щ": "SHCH", "Ь": "", "Ю": "IU", "Я": "IA", "Ы": "Y", "Э": "E",
        "Ё": "IO", "Ъ": "", "'": "", "’": "", "ʼ": "", "`": "",
    }
)

# Legal forms after transliteration: full phrases first, then abbreviations as whole words.
_LEGAL_PHRASES = (
    "TOVARYSTVO Z OBMEZHENOIU VIDPOVIDALNISTIU", "TOVARYSTVO Z DODATKOVOIU VIDPOVIDALNISTIU",
    "PRYVATNE AKTSIONERNE TOVARYSTVO", "PUBLICHNE AKTSIONERNE TOVARYSTVO", "AKTSIONERNE TOVARYSTVO",
    "PRYVATNE PIDPRYIEMSTVO", "DERZHAVNE PIDPRYIEMSTVO", "KOMUNALNE PIDPRYIEMSTVO",
    "FIZYCHNA OSOBA PIDPRYIEMETS", "FIZYCHNA OSOBA", "HROMADSKA ORHANIZATSIIA", "BLAHODIINYI FOND",
    "OBSHCHESTVO S OHRANYCHENNOI OTVETSTVENNOSTIU", "CHASTNOE PREDPRYIATYE",
    "FYZYCHESKOE LYTSO PREDPRYNYMATEL", "AKTSYONERNOE OBSHCHESTVO",
    "LIMITED LIABILITY COMPANY", "PRIVATE JOINT STOCK COMPANY", "JOINT STOCK COMPANY",
    "PRIVATE ENTERPRISE", "PRIVATE ENTREPRENEUR", "INDIVIDUAL ENTREPRENEUR", "SOLE PROPRIETOR",
    "SP Z O O", "SPOLKA Z OGRANICZONA ODPOWIEDZIALNOSCIA", "D O O", "S R O",
)
_LEGAL_WORDS = (
    "TOV", "TZOV", "TDV", "PP", "FOP", "PRAT", "PAT", "AT", "DP", "KP", "OOO", "CHP", "FLP", "SPD",
    "HO", "BF", "LLC", "LTD", "LIMITED", "INC", "CORP", "GMBH", "OU", "AG", "SA", "SRL", "PE",
    "PJSC", "JSC", "PRJSC", "TOB", "CO", "PLC", "UG", "BV", "NV", "SPZOO", "DOO", "SRO", "SARL", "OY", "APS",
)
_NOT_ALNUM = re.compile(r"[^A-Z0-9]+")
_ALNUM_RUN = re.compile(r"[A-Z0-9]+")

_FOLDS = (
    ("G", "H"), ("SHCH", "S"), ("SCH", "S"), ("ZH", "Z"), ("KH", "H"), ("TS", "C"), ("CH", "C"), ("SH", "S"),
    ("PH", "F"), ("CK", "K"), ("Q", "K"), ("W", "V"), ("X", "KS"), ("J", "I"), ("Y", "I"), ("IE", "E"), ("IU", "U"),
    ("IA", "A"), ("IO", "O"),
)
_DOUBLE = re.compile(r"([A-Z])\1+")
_VOWELS = re.compile(r"[AEIOU]+")
_PATRONYMIC = re.compile(r"(?:OVYCH|EVYCH|IEVYCH|YCH|IVNA|OVNA|EVNA|IIVNA|ICH|OVICH|EVICH|OVNA)$")


_LATIN_EXTRA = str.maketrans({"ß": "SS", "Ø": "O", "Ł": "L", "Đ": "D", "Æ": "AE", "Œ": "OE", "Þ": "TH"})


def _plain_latin(text: str) -> str:
    """Latin letters without diacritics (OÜ -> OU, SPÓŁKA -> SPOLKA); Cyrillic letters untouched
    (decomposing Й or Ї would lose the letter)."""
    if text.isascii():
        return text
    out = []
    for char in text.translate(_LATIN_EXTRA):
        if ord(char) < 128 or char in _CYRILLIC or "\u0400" <= char <= "\u04ff":
            out.append(char)
        else:
            out.append("".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)))
    return "".join(out)


def _fix_mixed_scripts(text: str) -> str:
    def one(word: re.Match) -> str:
        w = word.group(0)
        has_latin = any("A" <= c <= "Z" for c in w)
        if has_latin and any(c in _CYRILLIC for c in w):
            return w.translate(_LATIN_TO_CYRILLIC)
        return w

    return _WORD.sub(one, text)


def transliterate(text: str) -> str:
    """Ukrainian national transliteration of an upper-case text (Latin letters pass through)."""
    text = _INITIAL.sub(lambda m: _INITIAL_FORMS[m.group(1)], text)
    return text.replace("ЗГ", "ZGH").translate(_TRANSLIT)


_NOT_PLAIN = re.compile(r"[^\x00-\x7f\u0400-\u04ff\u2010-\u2030«»№ʼ]")
_LATIN_LETTER = re.compile(r"[A-Z]")
_CYRILLIC_LETTER = re.compile(rf"[{_CYRILLIC}]")
_WORD_INITIAL_LETTERS = re.compile(r"[ЄЇЙЮЯ]")
_PHRASES: dict[str, list[tuple[str, ...]]] = {}
for _phrase in _LEGAL_PHRASES:
    _PHRASES.setdefault(_phrase.split()[0], []).append(tuple(_phrase.split()))
_LEGAL_SET = frozenset(_LEGAL_WORDS)
_LEGAL_STARTS = _LEGAL_SET | frozenset(_PHRASES)
for _starts in _PHRASES.values():
    _starts.sort(key=len, reverse=True)


def _kept_positions(words: list[str]) -> list[int]:
    """Positions of the words that are not part of a legal form (phrases longest first)."""
    if _LEGAL_STARTS.isdisjoint(words):
        return list(range(len(words)))
    kept, i = [], 0
    while i < len(words):
        for phrase in _PHRASES.get(words[i], ()):
            if tuple(words[i : i + len(phrase)]) == phrase:
                i += len(phrase)
                break
        else:
            if words[i] not in _LEGAL_SET:
                kept.append(i)
            i += 1
    return kept


def _without_legal_forms(words: list[str]) -> list[str]:
    """Drop legal-form phrases (longest first) and abbreviations, word by word."""
    return [words[i] for i in _kept_positions(words)]


# One Latin letter per Cyrillic letter, matching what `fold` makes of the national digraphs
# (Ж->Z, Х->H, Ц->C, Ч->C, Ш->S, Щ->S, Є->E, Ю->U, Я->A): a one-letter slip in a Cyrillic name stays
# a one-letter difference, where in transliteration ДЮСТИТКИ / ДЮСТИТЖИ become ...TKY / ...TZHY.
_FLAT = str.maketrans(
    {
        "А": "A", "Б": "B", "В": "V", "Г": "H", "Ґ": "H", "Д": "D", "Е": "E", "Є": "E", "Ж": "Z", "З": "Z", "И": "I",
        "І": "I", "Ї": "I", "Й": "I", "К": "K", "Л": "L", "М": "M", "Н": "N", "О": "O", "П": "P", "Р": "R", "С": "S",
        "Т": "T", "У": "U", "Ф": "F", "Х": "H", "Ц": "C", "Ч": "C", "Ш": "S", "Щ": "S", "Ь": "", "Ю": "U", "Я": "A",
        "Ы": "I", "Э": "E", "Ё": "O", "Ъ": "", "'": "", "’": "", "ʼ": "", "`": "",
    }
)


def _prepared(name: str) -> str:
    text = str(name).upper()
    if _NOT_PLAIN.search(text):
        text = _plain_latin(text)
    if _LATIN_LETTER.search(text) and _CYRILLIC_LETTER.search(text):
        text = _fix_mixed_scripts(text)
    return text


def _national_words(text: str) -> list[str]:
    if _WORD_INITIAL_LETTERS.search(text):
        text = _INITIAL.sub(lambda m: _INITIAL_FORMS[m.group(1)], text)
    return _ALNUM_RUN.findall(text.replace("ЗГ", "ZGH").translate(_TRANSLIT))


@lru_cache(maxsize=400_000)
def _parsed(name: str) -> tuple[str, tuple[str, ...], tuple[int, ...]]:
    """(prepared text, transliterated words, positions of the words outside legal forms)."""
    text = _prepared(name)
    words = _national_words(text)
    return text, tuple(words), tuple(_kept_positions(words))


def name_key(name: str | None) -> str:
    """The sorted words of a name without its legal form, in Latin letters; '' when nothing is left."""
    if not name:
        return ""
    _, words, kept = _parsed(name)
    return " ".join(sorted(words[i] for i in kept))


def name_flat(name: str | None) -> str:
    """The words of `name_key`, spelled with one letter per Cyrillic letter (a Latin word: `fold`
    of it), for fuzzy comparison: a one-letter slip in a Cyrillic name stays one letter."""
    if not name:
        return ""
    text, nationals, kept = _parsed(name)
    flats = _ALNUM_RUN.findall(text.translate(_FLAT))
    if len(flats) != len(nationals):  # cannot happen with these tables; stay safe
        flats = nationals
    # a word both tables spell alike has no Cyrillic letter that matters: fold it as Latin
    return " ".join(sorted(fold(nationals[i]) if flats[i] == nationals[i] else _DOUBLE.sub(r"\1", flats[i].replace("Y", "I"))
                           for i in kept))


@lru_cache(maxsize=400_000)
def fold(key: str) -> str:
    """A key with transliteration variants merged (ROMASCHKA, ROMASHKA -> ROMASKA; ZOLOTAYA -> ZOLOTA)."""
    words = []
    for word in key.split():
        for old, new in _FOLDS:
            word = word.replace(old, new)
        words.append(_DOUBLE.sub(r"\1", word))
    return " ".join(sorted(words))


def skeleton(folded_word: str) -> str:
    """A folded word without vowels after its first letter: a coarse blocking key for typos."""
    return folded_word[:1] + _VOWELS.sub("", folded_word[1:])


def is_person_name(key: str) -> bool:
    """A Ukrainian full name: three words, one of them a patronymic (..OVYCH, ..IVNA)."""
    words = key.split()
    return 2 <= len(words) <= 4 and any(_PATRONYMIC.search(w) for w in words if len(w) > 5)


@lru_cache(maxsize=100_000)
def _match_masks(a: str) -> dict[str, int]:
    masks: dict[str, int] = {}
    for i, c in enumerate(a):
        masks[c] = masks.get(c, 0) | (1 << i)
    return masks


def _lcs_length(a: str, b: str) -> int:
    """Length of the longest common subsequence, bit-parallel (Hyyrö 2004) on Python integers."""
    if len(a) < len(b):
        a, b = b, a
    masks = _match_masks(a)
    row = (1 << len(a)) - 1
    for c in b:
        matches = masks.get(c, 0)
        u = row & matches
        row = (row + u) | (row - u)
    return len(a) - bin(row & ((1 << len(a)) - 1)).count("1")


try:  # rapidfuzz, when installed, computes the same integer distance in C
    from rapidfuzz.distance import Indel as _Indel

    def indel_distance(a: str, b: str) -> int:
        return int(_Indel.distance(a, b))
except ImportError:  # pragma: no cover - exercised where rapidfuzz is absent

    def indel_distance(a: str, b: str) -> int:
        return len(a) + len(b) - 2 * _lcs_length(a, b)


def name_similarity(a: str, b: str, floor: int = 0) -> int:
    """Similarity of two folded names in thousandths, word by word: every word of one must have a
    close word in the other (same number of words), and the weakest pair decides.

    Comparing whole strings lets shared words carry a pair: "POLISCUK IEVHEN IEVHENOVIC" and
    "OLIINIK IEVHEN IEVHENOVIC" are 0.89 alike as strings and two different people. "ROMASKA"
    against "PLIUS ROMASKA" has a word with no partner: a different company, not a typo.

    Exact at or above `floor`; below it, some value below `floor` (the work stops early).
    """
    words_a, words_b = a.split(), b.split()
    if not words_a or len(words_a) != len(words_b):
        return 0
    total = len(a) + len(b)
    if 1000 - (1000 * abs(len(a) - len(b)) + total - 1) // total < floor:  # lengths alone rule it out
        return 0
    whole = similarity(a, b)
    if whole < floor:
        return whole
    weakest = 1000
    left = list(words_b)
    for word in sorted(words_a, key=lambda w: (-len(w), w)):
        scores = [similarity(word, other) for other in left]
        best = max(range(len(left)), key=lambda k: (scores[k], -k))
        weakest = min(weakest, scores[best])
        left.pop(best)
    return min(weakest, whole)


def similarity_many(first: list[str], second: list[str], chunk: int = 50_000) -> np.ndarray:
    """`similarity` of many ASCII string pairs at once (the same integers).

    The bit-parallel LCS runs on uint64 words, one per pair, column by column of the shorter
    string; pairs with a string longer than 64 characters fall back to the one-pair version.
    """
    n = len(first)
    out = np.zeros(n, dtype=np.int64)
    if n == 0:
        return out
    len_a = np.fromiter((len(s) for s in first), dtype=np.int64, count=n)
    len_b = np.fromiter((len(s) for s in second), dtype=np.int64, count=n)
    fits = (len_a <= 64) & (len_b <= 64) & (len_a + len_b > 0)
    for i in np.flatnonzero(~fits):
        out[i] = similarity(first[i], second[i])
    rows = np.flatnonzero(fits)
    for begin in range(0, len(rows), chunk):
        part = rows[begin : begin + chunk]
        swap = len_a[part] < len_b[part]  # the longer string carries the bits
        longer = [second[i] if w else first[i] for i, w in zip(part, swap)]
        shorter = [first[i] if w else second[i] for i, w in zip(part, swap)]
        a = np.array([s.encode("ascii", "replace") for s in longer], dtype="S64").view(np.uint8).reshape(len(part), 64)
        b = np.array([s.encode("ascii", "replace") for s in shorter], dtype="S64").view(np.uint8).reshape(len(part), 64)
        la = np.maximum(len_a[part], len_b[part])
        lb = np.minimum(len_a[part], len_b[part])
        full = np.where(la >= 64, np.uint64(0xFFFFFFFFFFFFFFFF), (np.uint64(1) << la.astype(np.uint64)) - np.uint64(1))
        row = full.copy()
        for j in range(int(lb.max()) if len(lb) else 0):
            matches = np.packbits(a == b[:, j : j + 1], axis=1, bitorder="little").view(np.uint64).ravel()
            u = row & matches
            with np.errstate(over="ignore"):
                updated = (row + u) | (row - u)
            row = np.where(j < lb, updated, row)
        lcs = la - np.bitwise_count(row & full).astype(np.int64)
        total = la + lb
        out[part] = 1000 - (1000 * (total - 2 * lcs) + total - 1) // total
    return out


def similarity(a: str, b: str) -> int:
    """Indel similarity of two strings in thousandths: 1000 - 1000 * distance / (len a + len b)."""
    total = len(a) + len(b)
    if total == 0:
        return 0
    return 1000 - (1000 * indel_distance(a, b) + total - 1) // total  # rounded down, never up

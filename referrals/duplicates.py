"""Likely duplicate referring offices, to offer a merge.

The same GP office gets typed in twice ("Maple Family Dental" and "Maple Dental, PC"), and
its referrals split between two rows, so neither looks like the steady referrer it is.
We suggest a pair when the phone numbers are the same, when the names are very similar,
or when the ZIP codes are the same and the names fairly similar.

Everything is computed in Python from one query of plain values: a practice has 30-60
offices, and at 1,000 it must still answer in well under a second, so names are compared
only when they share enough character trigrams (an inverted index), never all pairs.
"""

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from itertools import combinations

from .models import ReferringOffice

# Words that say "dental office" rather than which one. Removing them lets
# "The Maple Family Dental, PC" and "Maple Dentistry LLC" compare as "maple" and "maple".
NOISE_WORDS = frozenset(
    {
        *("the", "and", "of", "at", "a", "an", "dr", "drs", "doctor", "doctors"),
        *("dds", "dmd", "pc", "pllc", "llc", "llp", "inc", "ltd", "pa", "co", "corp"),
        *("dental", "dentistry", "dentist", "dentists", "family", "office", "offices"),
        *("practice", "group", "associates", "care", "center", "centre", "clinic"),
    }
)

SIMILAR_NAME = 0.88  # anywhere in the practice
SIMILAR_NAME_SAME_ZIP = 0.72  # same ZIP: a weaker name match is enough
# Trigram Dice coefficient below which two names cannot reach SIMILAR_NAME_SAME_ZIP:
# a cheap pre-filter so only plausible pairs pay for difflib.
TRIGRAM_FLOOR = 0.4
MIN_PHONE_DIGITS = 7


@dataclass(frozen=True)
class OfficeKey:
    """What the comparison needs of an office; built from one ``values()`` query."""

    id: int
    name: str
    zip5: str
    phone: str  # digits only
    is_archived: bool
    normalized: str
    phone_display: str = ""  # as typed


@dataclass
class DuplicatePair:
    first: OfficeKey
    second: OfficeKey
    score: float  # name similarity 0..1
    reasons: list[str] = field(default_factory=list)

    @property
    def percent(self) -> int:
        return round(self.score * 100)

    def other(self, office_id: int) -> OfficeKey:
        return self.second if self.first.id == office_id else self.first


def normalize_name(name: str) -> str:
    """Lowercase, without accents, punctuation or noise words; tokens in their order."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    text = text.replace("&", " and ").replace("'", "")
    # Dotted abbreviations are one word: "p.c." is "pc", "d.d.s." is "dds".
    text = re.sub(r"\b(?:[a-z]\.){2,}", lambda m: m.group(0).replace(".", ""), text)
    tokens = re.findall(r"[a-z0-9]+", text)
    kept = [t for t in tokens if t not in NOISE_WORDS]
    return " ".join(kept or tokens)


def phone_digits(phone: str) -> str:
    """Digits only, without a US country code; '' when too short to identify an office."""
    digits = re.sub(r"\D", "", phone or "")
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return digits if len(digits) >= MIN_PHONE_DIGITS else ""


def _ratio(a: str, b: str, floor: float) -> float:
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    # quick_ratio is an upper bound of ratio and much cheaper: skip hopeless pairs.
    if matcher.real_quick_ratio() < floor or matcher.quick_ratio() < floor:
        return 0.0
    return matcher.ratio()


def name_similarity(a: str, b: str, floor: float = 0.0) -> float:
    """difflib ratio of normalized names, also with the words sorted (word order varies:
    'Smith and Jones' / 'Jones & Smith'). Below ``floor`` the answer may be 0."""
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    sa, sb = " ".join(sorted(a.split())), " ".join(sorted(b.split()))
    if sa == sb:
        return 1.0
    return max(_ratio(a, b, floor), _ratio(sa, sb, floor))


def _trigrams(text: str) -> set[str]:
    padded = f"  {text} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def office_keys(queryset=None) -> list[OfficeKey]:
    """One query of values for the current practice scope."""
    queryset = ReferringOffice.objects.all() if queryset is None else queryset
    rows = queryset.order_by("id").values_list("id", "name", "zip_code", "phone", "is_archived")
    return [
        OfficeKey(
            id=pk,
            name=name,
            zip5=(zip_code or "").strip()[:5],
            phone=phone_digits(phone),
            is_archived=archived,
            normalized=normalize_name(name),
            phone_display=phone,
        )
        for pk, name, zip_code, phone, archived in rows
    ]


def _judge(a: OfficeKey, b: OfficeKey) -> DuplicatePair | None:
    same_phone = bool(a.phone) and a.phone == b.phone
    same_zip = bool(a.zip5) and a.zip5 == b.zip5
    # The score is shown with every pair; only a same-phone pair needs it exactly.
    floor = 0.0 if same_phone else SIMILAR_NAME_SAME_ZIP if same_zip else SIMILAR_NAME
    score = name_similarity(a.normalized, b.normalized, floor)
    reasons = []
    if same_phone:
        reasons.append("same phone")
    if score >= SIMILAR_NAME:
        reasons.append("similar name" if score < 1 else "same name")
    elif same_zip and score >= SIMILAR_NAME_SAME_ZIP:
        reasons.append("same ZIP and similar name")
    if not reasons:
        return None
    return DuplicatePair(first=a, second=b, score=score, reasons=reasons)


def _candidate_pairs(keys: list[OfficeKey]) -> set[tuple[int, int]]:
    """Index pairs worth a difflib comparison: same phone, same ZIP, or enough shared
    trigrams. Counting shared trigrams through an inverted index touches only names that
    have something in common."""
    pairs: set[tuple[int, int]] = set()
    by_phone: dict[str, list[int]] = defaultdict(list)
    by_zip: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        if key.phone:
            by_phone[key.phone].append(i)
        if key.zip5:
            by_zip[key.zip5].append(i)
    for group in (*by_phone.values(), *by_zip.values()):
        pairs.update(combinations(group, 2))

    grams = [_trigrams(k.normalized) for k in keys]
    postings: dict[str, list[int]] = defaultdict(list)
    for i, gs in enumerate(grams):
        for g in gs:
            postings[g].append(i)
    for i, gs in enumerate(grams):
        shared: dict[int, int] = defaultdict(int)
        for g in gs:
            for j in postings[g]:
                if j > i:
                    shared[j] += 1
        for j, count in shared.items():
            if 2 * count / (len(gs) + len(grams[j])) >= TRIGRAM_FLOOR:
                pairs.add((i, j))
    return pairs


def _worth_showing(a: OfficeKey, b: OfficeKey) -> bool:
    # Two archived rows are history nobody works with any more.
    return not (a.is_archived and b.is_archived)


def find_duplicates(keys: list[OfficeKey] | None = None) -> list[DuplicatePair]:
    """Likely duplicate pairs in the current practice, most certain first."""
    keys = office_keys() if keys is None else keys
    found = []
    for i, j in _candidate_pairs(keys):
        a, b = keys[i], keys[j]
        if not _worth_showing(a, b):
            continue
        pair = _judge(a, b)
        if pair is not None:
            found.append(pair)
    found.sort(key=lambda p: (-len(p.reasons), -p.score, p.first.name.lower(), p.first.id))
    return found


def duplicates_of(office: ReferringOffice, keys: list[OfficeKey] | None = None):
    """Likely duplicates of one office (for its page): one query, one comparison each."""
    keys = office_keys() if keys is None else keys
    me = next((k for k in keys if k.id == office.pk), None)
    if me is None:
        return []
    found = []
    for other in keys:
        if other.id == me.id or not _worth_showing(me, other):
            continue
        pair = _judge(me, other)
        if pair is not None:
            found.append(pair)
    found.sort(key=lambda p: (-len(p.reasons), -p.score, p.second.name.lower()))
    return found

"""Referring offices of a file, matched to the practice's offices before anything is written.

A PMS export spells the same office many ways ("Smile Dental Care, LLC", "Smile Dental
Care", "The Smile Dental Care"), so offices are compared by a normalised name. What counts
as the same office, strongest first:

1. the PMS id of the office (``office_external_id``) equals an existing office's external id;
2. the referring doctor's NPI belongs to an existing doctor: the doctor's office;
3. the normalised name and the ZIP (first five digits) are equal;

Those three are certain and merged. "Similar" is uncertain and never merged without the
admin's word: the same normalised name with a different or missing ZIP, or a close name
(difflib ratio >= 0.85) at the same ZIP. :func:`office_candidates` lists the file's offices
with their best match for the wizard; the admin's answers come back as
``Mapping.offices`` (file key -> office id, or "new") and the :class:`~.matching.Matcher`
follows them.
"""

import difflib
import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from ..models import ReferringOffice, ReferringProvider
from .reading import RawRow

SIMILAR_RATIO = 0.85

# Dropped from the end of a name (repeatedly: "Smile Dental PC DDS"): the legal form or the
# degree says nothing about which office it is. "Group", "Associates", "Center" are kept:
# "Smile Dental" and "Smile Dental Group" may be two practices in one town.
BUSINESS_SUFFIXES = frozenset(
    {"llc", "pllc", "pc", "pa", "inc", "ltd", "co", "corp", "dds", "dmd", "lp", "llp"}
)
_JOINED = re.compile(r"[.'’`]")  # "L.L.C." -> "llc", "Smith's" -> "smiths"
_SEPARATORS = re.compile(r"[^0-9a-z]+")


# Every row of a file asks again for its office's few spellings: cached, bounded.
@functools.lru_cache(maxsize=4096)
def normalise_name(name: str) -> str:
    """The name an office is compared by.

    Rules, in order: accents removed and case folded; "&" and "+" read as "and"; dots and
    apostrophes dropped (so "P.C." is "pc"); every other run of punctuation or spaces is
    one space; a leading "the" is dropped; business suffixes (LLC, PLLC, PC, PA, Inc, Ltd,
    Co, Corp, LP, LLP, DDS, DMD) are dropped from the end, repeatedly. A name made only of
    such words is kept as it is (normalised), so it still compares with itself.
    """
    text = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = text.replace("&", " and ").replace("+", " and ")
    text = _JOINED.sub("", text)
    words = _SEPARATORS.sub(" ", text).split()
    all_words = list(words)
    if words and words[0] == "the":
        words = words[1:]
    while words and words[-1] in BUSINESS_SUFFIXES:
        words.pop()
    return " ".join(words or all_words)


def normalise_zip(zip_code: str) -> str:
    """ZIP+4 and spaces do not make another office: the first five digits (US), else the
    value without spaces, case folded."""
    compact = "".join(zip_code.split()).casefold()
    digits = compact.replace("-", "")
    if len(digits) in (5, 9) and digits.isdigit():
        return digits[:5]
    return compact


def file_key(name: str, zip_code: str, npi: str, external_id: str) -> str:
    """A stable key for an office of a file, kept in saved presets (``Mapping.offices``):
    the PMS id when there is one, else the doctor's NPI, else normalised name and ZIP."""
    if external_id.strip():
        return f"ext:{external_id.strip()}"
    if npi.strip():
        return f"npi:{npi.strip()}"
    return f"name:{normalise_name(name)}|{normalise_zip(zip_code)}"


@dataclass
class OfficeCandidate:
    key: str
    name: str
    zip_code: str
    npi: str
    external_id: str
    rows: int
    match_id: int | None
    match_name: str
    how: str  # "external_id" | "npi" | "name_zip" | "similar" | "new"
    certain: bool


@dataclass(slots=True)
class _Office:
    pk: int
    name: str
    zip_code: str
    norm: str
    nzip: str


class OfficeIndex:
    """The practice's offices and doctors' NPIs, loaded once (two queries), to match the
    offices of a file. Shared by :func:`office_candidates` and the Matcher so both give
    the same answer. Works inside the practice's scope."""

    def __init__(self):
        self.by_id: dict[int, _Office] = {}
        self.by_external_id: dict[str, int] = {}
        self.by_name_zip: dict[tuple[str, str], int] = {}
        self.by_name: dict[str, list[int]] = {}
        self.by_zip: dict[str, list[int]] = {}
        # Several offices may share a name and ZIP (not merged yet): the oldest active one,
        # always the same.
        for pk, name, zip_code, external_id in ReferringOffice.objects.order_by(
            "is_archived", "id"
        ).values_list("id", "name", "zip_code", "external_id"):
            office = _Office(pk, name, zip_code, normalise_name(name), normalise_zip(zip_code))
            self.by_id[pk] = office
            if external_id:
                self.by_external_id.setdefault(external_id, pk)
            self.by_name_zip.setdefault((office.norm, office.nzip), pk)
            self.by_name.setdefault(office.norm, []).append(pk)
            self.by_zip.setdefault(office.nzip, []).append(pk)
        # NPI -> (provider id, office id); providers: id, office, normalised names.
        self.npi: dict[str, tuple[int, int]] = {}
        self.providers: list[tuple[int, int, str, str]] = []
        for pk, office_id, first, last, npi in ReferringProvider.objects.order_by(
            "is_archived", "id"
        ).values_list("id", "office_id", "first_name", "last_name", "npi"):
            if npi:
                self.npi.setdefault(npi, (pk, office_id))
            self.providers.append((pk, office_id, first, last))

    def certain(self, name: str, zip_code: str, npi: str, external_id: str):
        """(office id, how) for a certain match, else (None, "")."""
        if external_id and external_id in self.by_external_id:
            return self.by_external_id[external_id], "external_id"
        if npi and npi in self.npi:
            return self.npi[npi][1], "npi"
        if name:
            pk = self.by_name_zip.get((normalise_name(name), normalise_zip(zip_code)))
            if pk is not None:
                return pk, "name_zip"
        return None, ""

    def similar(self, name: str, zip_code: str) -> int | None:
        """The closest uncertain match: same normalised name elsewhere (or without ZIP),
        else the most similar name at the same ZIP."""
        norm, nzip = normalise_name(name), normalise_zip(zip_code)
        same_name = self.by_name.get(norm)
        if same_name:
            return same_name[0]
        best, best_ratio = None, SIMILAR_RATIO
        for pk in self.by_zip.get(nzip, ()) if nzip else ():
            ratio = difflib.SequenceMatcher(None, norm, self.by_id[pk].norm).ratio()
            if ratio >= best_ratio:
                best, best_ratio = pk, ratio
        return best


def row_office(values: dict[str, str]) -> tuple[str, str, str, str]:
    """(name, zip, npi, external id) of a canonical row."""
    return (
        values.get("referring_office", ""),
        values.get("office_zip", ""),
        values.get("provider_npi", ""),
        values.get("office_external_id", ""),
    )


class FileOffices:
    """Which rows of a file are one office: rows sharing the PMS id, the doctor's NPI, or
    the normalised name and ZIP are the same office (so the same NPI under two spellings
    of the business name is one office, and two doctors of one office with their own NPIs
    are one office too). Each office of the file is named by the file key of its first
    row. Memory: a few keys per office, not per row."""

    def __init__(self):
        self._groups: dict[str, str] = {}

    def group(self, name: str, zip_code: str, npi: str, external_id: str) -> tuple[str, bool]:
        """(the office's file key, first time seen)."""
        keys = []
        if external_id:
            keys.append(f"ext:{external_id}")
        if npi:
            keys.append(f"npi:{npi}")
        if name:
            keys.append(f"name:{normalise_name(name)}|{normalise_zip(zip_code)}")
        found = next((self._groups[k] for k in keys if k in self._groups), None)
        new = found is None
        if new:
            found = file_key(name, zip_code, npi, external_id)
        for k in keys:
            self._groups.setdefault(k, found)
        return found, new


def office_candidates(raw_rows: Iterable[RawRow]) -> list[OfficeCandidate]:
    """The distinct offices of a file, each with its best existing match (in scope)."""
    index = OfficeIndex()
    groups = FileOffices()
    candidates: dict[str, OfficeCandidate] = {}
    for raw in raw_rows:
        if raw.values is None:
            continue
        name, zip_code, npi, external_id = (v.strip() for v in row_office(raw.values))
        if not (name or npi or external_id):
            continue
        key, new = groups.group(name, zip_code, npi, external_id)
        if not new:
            # An office of the file is matched once, by its first row, as the Matcher does.
            candidates[key].rows += 1
            continue
        candidates[key] = OfficeCandidate(
            key, name, zip_code, npi, external_id, 1, None, "", "new", True
        )
    for candidate in candidates.values():
        pk, how = index.certain(
            candidate.name, candidate.zip_code, candidate.npi, candidate.external_id
        )
        certain = pk is not None
        if not certain and candidate.name:
            pk = index.similar(candidate.name, candidate.zip_code)
            how = "similar" if pk is not None else "new"
        candidate.how = how or "new"
        candidate.certain = candidate.how != "similar"
        if pk is not None:
            candidate.match_id = pk
            candidate.match_name = index.by_id[pk].name
    return sorted(candidates.values(), key=lambda c: (c.certain, -c.rows, c.name.casefold()))

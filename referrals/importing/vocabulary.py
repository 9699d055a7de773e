"""The words a referral-history CSV may use: its columns and the spellings of source and
case types a PMS export is likely to contain, mapped to our TextChoices."""

import re

from django.db import models

from ..choices import CaseType, SourceType

COLUMNS: tuple[str, ...] = (
    "chart_number",
    "patient_first_name",
    "patient_last_name",
    "patient_dob",
    "referral_date",
    "source_type",
    "referring_office",
    "referring_provider",
    "office_zip",
    "case_type",
    "consult_date",
    "decision",
    "decision_date",
    "surgery_date",
    "production",
)

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def spelling_key(value: str) -> str:
    """'Third-Molars', 'third_molars' and ' THIRD  molars ' are the same word."""
    return _NON_ALNUM.sub(" ", value.casefold()).strip()


def _vocabulary(choices, aliases: dict[str, list[str]]) -> dict[str, str]:
    words: dict[str, str] = {}
    for choice in choices:
        words[spelling_key(choice.value)] = choice.value
        words[spelling_key(choice.label)] = choice.value
    for value, spellings in aliases.items():
        for spelling in spellings:
            words[spelling_key(spelling)] = value
    return words


SOURCE_WORDS = _vocabulary(
    SourceType,
    {
        SourceType.DOCTOR: [
            "dr",
            "dr.",
            "doc",
            "dentist",
            "gp",
            "general dentist",
            "general dentistry",
            "general practitioner",
            "referring doctor",
            "referring dentist",
            "doctor referral",
            "dentist referral",
        ],
        SourceType.SPECIALIST: [
            "specialist referral",
            "orthodontist",
            "periodontist",
            "endodontist",
            "prosthodontist",
            "pediatric dentist",
            "physician",
            "ent",
        ],
        SourceType.SELF: [
            "patient",
            "self referral",
            "self-referred",
            "self referred",
            "walk in",
            "walk-in",
            "word of mouth",
            "friend",
            "family",
        ],
        SourceType.WEBSITE: ["web", "online", "internet", "google", "web site"],
        SourceType.INSURANCE: ["insurer", "insurance company", "insurance referral"],
        SourceType.EVENT: ["seminar", "community event", "study club", "health fair"],
        SourceType.OTHER: ["unknown", "misc", "miscellaneous"],
    },
)

CASE_WORDS = _vocabulary(
    CaseType,
    {
        CaseType.THIRD_MOLARS: [
            "third molar",
            "3rd molar",
            "3rd molars",
            "wisdom teeth",
            "wisdom tooth",
            "wisdom",
            "molars",
        ],
        CaseType.IMPLANTS: ["implant", "dental implant", "dental implants", "implant placement"],
        CaseType.EXTRACTIONS: ["extraction", "ext", "exo", "tooth extraction", "extract"],
        CaseType.BONE_GRAFT: [
            "bone grafts",
            "graft",
            "grafting",
            "bone grafting",
            "sinus lift",
            "ridge augmentation",
        ],
        CaseType.BIOPSY: ["biopsies", "pathology", "path", "lesion", "oral pathology"],
        CaseType.ORTHOGNATHIC: [
            "ortho",
            "orthognathic surgery",
            "jaw surgery",
            "corrective jaw surgery",
        ],
        CaseType.TMJ: ["tmd", "tmj tmd", "tmj disorder", "temporomandibular"],
        CaseType.TRAUMA: ["fracture", "facial trauma", "injury"],
        CaseType.OTHER: ["misc", "miscellaneous"],
    },
)

DECISION_WORDS = {
    "accepted": "accepted",
    "accept": "accepted",
    "declined": "declined",
    "decline": "declined",
}

# Degrees and titles around a doctor's name that are not part of it.
_TITLE = re.compile(r"^(dr|doctor)\.?\s+", re.IGNORECASE)
_CREDENTIALS = frozenset(
    {"dds", "dmd", "md", "phd", "ms", "msd", "mds", "bds", "fagd", "magd", "facs", "pc"}
)
_SURNAME_PARTICLES = frozenset({"van", "von", "de", "del", "der", "den", "da", "di", "du", "la"})


def split_doctor_name(value: str) -> tuple[str, str] | None:
    """'Dr. Jane Smith', 'Smith, Jane', 'Jane Smith, DDS' -> ('Jane', 'Smith'); None if a
    first and a last name cannot both be told apart."""
    name = _TITLE.sub("", " ".join(value.split()))
    parts = []
    for part in name.split(","):
        words = [w for w in part.split() if w.replace(".", "").casefold() not in _CREDENTIALS]
        if words:
            parts.append(words)
    if len(parts) >= 2:  # "Smith, Jane"
        last, first = " ".join(parts[0]), " ".join(parts[1])
    elif parts:
        words = parts[0]
        cut = len(words) - 1
        while cut > 1 and words[cut - 1].casefold() in _SURNAME_PARTICLES:
            cut -= 1
        first, last = " ".join(words[:cut]), " ".join(words[cut:])
    else:
        return None
    if not first or not last:
        return None
    return first, last


class ProcedureStatus(models.TextChoices):
    """A procedure line's status in a procedure-level export (procedures.group reads it)."""

    PLANNED = "planned", "Planned"
    COMPLETE = "complete", "Complete"
    DELETED = "deleted", "Deleted"

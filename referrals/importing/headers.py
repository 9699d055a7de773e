"""The header dictionary: how practice-management exports usually name each column, so a
file's columns come pre-mapped. An exact match of the normalised header first, then a close
spelling (difflib ratio >= 0.85) — never a guess below that: an unmapped column is ignored
until the user picks a field."""

import difflib
import re

FUZZY_CUTOFF = 0.85

# Target value -> spellings (normalised by ``header_key`` when the table is built).
_SPELLINGS: dict[str, list[str]] = {
    "chart_number": [
        "chart number",
        "chart #",
        "chart no",
        "chart",
        "chart id",
        "patnum",
        "pat num",
        "patient id",
        "patient number",
        "patient #",
        "patient no",
        "account #",
        "account number",
        "account no",
        "account",
        "acct #",
        "acct",
        "mrn",
        "pt id",
        "pt #",
        "patient account",
    ],
    "patient_first_name": [
        "patient first name",
        "first name",
        "first",
        "fname",
        "pt first",
        "pt first name",
        "patient first",
        "given name",
        "firstname",
        "pat first name",
    ],
    "patient_last_name": [
        "patient last name",
        "last name",
        "last",
        "lname",
        "pt last",
        "pt last name",
        "patient last",
        "surname",
        "family name",
        "lastname",
        "pat last name",
    ],
    "patient_name": ["patient name", "patient", "name", "pt name", "patient full name"],
    "patient_dob": [
        "dob",
        "birthdate",
        "birth date",
        "date of birth",
        "patient dob",
        "pt dob",
        "patient birthdate",
        "patient birth date",
        "birthday",
        "bdate",
    ],
    "referral_date": [
        "ref date",
        "referral date",
        "date referred",
        "referred date",
        "refdate",
        "date of referral",
        "referral received",
        "received",
        "received date",
        "date received",
    ],
    "source_type": [
        "referral type",
        "source",
        "source type",
        "referral source type",
        "ref type",
        "referral category",
        "reftype",
    ],
    "referring_office": [
        "businessname",
        "business name",
        "practice name",
        "office name",
        "practice",
        "office",
        "referring office",
        "referring practice",
        "ref office",
        "ref practice",
        "clinic",
        "referring clinic",
    ],
    "referring_provider": [
        "referring doctor",
        "referring dentist",
        "ref dr",
        "ref doctor",
        "referring provider",
        "ref provider",
        "referring dr",
        "doctor",
        "referrer",
        "ref dentist",
    ],
    "referred_by": ["referred by", "referral source", "referredby", "ref by", "referred from"],
    "provider_first_name": [
        "reffname",
        "ref fname",
        "ref first name",
        "referring first name",
        "doctor first name",
        "provider first name",
        "ref first",
    ],
    "provider_last_name": [
        "reflname",
        "ref lname",
        "ref last name",
        "referring last name",
        "doctor last name",
        "provider last name",
        "ref last",
    ],
    "provider_npi": ["refnpi", "ref npi", "npi", "referring npi", "provider npi", "doctor npi"],
    "office_external_id": [
        "referralnum",
        "referral num",
        "ref id",
        "referrer id",
        "office id",
        "referring office id",
        "refnum",
    ],
    "office_zip": [
        "zip",
        "refzip",
        "ref zip",
        "zip code",
        "zipcode",
        "postal code",
        "office zip",
        "referring zip",
        "practice zip",
    ],
    "case_type": [
        "case type",
        "procedure",
        "treatment",
        "treatment type",
        "case",
        "procedure type",
        "reason",
        "reason for referral",
        "service",
    ],
    "consult_date": ["consult date", "consultation date", "consult", "exam date", "first visit"],
    "decision": ["decision", "treatment decision", "case status", "accepted", "tx decision"],
    "decision_date": ["decision date", "accepted date", "date accepted", "tx decision date"],
    "surgery_date": ["surgery date", "date of surgery", "surgery", "treatment date", "tx date"],
    "production": ["production", "amount", "total", "collected", "revenue", "case fee"],
    "procedure_code": [
        "proc code",
        "procedure code",
        "ada code",
        "cdt",
        "cdt code",
        "proccode",
        "code",
        "procedurecode",
        "adacode",
    ],
    "procedure_date": [
        "proc date",
        "procedure date",
        "date of service",
        "dos",
        "procdate",
        "service date",
    ],
    "procedure_fee": ["fee", "procfee", "proc fee", "procedure fee", "charge", "amount charged"],
    "procedure_status": ["procstatus", "proc status", "procedure status", "status"],
    # Columns exports add that we do not keep: known, so no fuzzy guess maps them.
    "": ["reftitle", "ref title", "title", "salutation"],
}


def header_key(name: str) -> str:
    """'Chart #' -> 'chart number'; 'Pt_Last-Name' -> 'pt last name'."""
    text = name.casefold().replace("#", " number ").replace("no.", "number")
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text).split())


HEADER_WORDS: dict[str, str] = {
    header_key(spelling): target
    for target, spellings in _SPELLINGS.items()
    for spelling in spellings
}


def match_target(header: str) -> tuple[str, float]:
    """(target, score): 1.0 for a known spelling, the difflib ratio for a close one, ("", 0)
    for none."""
    key = header_key(header)
    if not key:
        return "", 0.0
    if key in HEADER_WORDS:
        return HEADER_WORDS[key], 1.0
    best, score = "", 0.0
    for spelling, target in HEADER_WORDS.items():
        ratio = difflib.SequenceMatcher(None, key, spelling).ratio()
        if ratio > score:
            best, score = target, ratio
    if score >= FUZZY_CUTOFF:
        return best, score
    return "", 0.0


def suggest_target(header: str) -> str:
    """The field a column probably holds ('' = ignore)."""
    return match_target(header)[0]


def suggest_columns(header: list[str]) -> dict[str, str]:
    """Each column's suggested field; two columns never get the same field (the better
    match keeps it, the first column on a tie)."""
    best: dict[str, tuple[float, int]] = {}
    found: dict[str, tuple[str, float]] = {}
    for position, name in enumerate(header):
        target, score = match_target(name)
        found[name] = (target, score)
        if target and (target not in best or score > best[target][0]):
            best[target] = (score, position)
    return {
        name: (target if target and best[target][1] == position else "")
        for position, (name, (target, _score)) in enumerate(found.items())
    }

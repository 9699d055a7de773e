"""Finding patients: the intake typeahead and the likely-duplicate check, and the "not
duplicates" marker that keeps a pair staff told apart out of that check for good.

Both run inside the request's practice scope (the scoped manager adds the practice filter),
return at most a handful of rows, and never log what was searched for: a query is a
patient's name, date of birth or phone number (PHI).
"""

import datetime as dt
import re
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import Case, F, Func, IntegerField, Q, Value, When
from django.db.models.functions import Replace

from .models import DistinctPatientPair, Patient

SEARCH_LIMIT = 10
MIN_QUERY_LENGTH = 2
# Fewer digits than this is not a phone number (a street number, part of a chart number).
MIN_PHONE_DIGITS = 7
PHONE_SEPARATORS = ("-", " ", "(", ")", ".", "+", "/")
PHONE_LIKE = re.compile(r"^[\d\s().+/-]+$")
DATE_FORMATS = ("%m/%d/%Y", "%m/%d/%y", "%m-%d-%Y", "%Y-%m-%d")


def digits_expression(field_name: str) -> Func:
    """The column with the usual phone separators removed, in SQL (PostgreSQL and SQLite).

    Phones are stored as typed ("(555) 010-1234", "555.010.1234"); comparing their digits
    finds the same number whatever way it was written.
    """
    expression: Func | F = F(field_name)
    for separator in PHONE_SEPARATORS:
        expression = Replace(expression, Value(separator), Value(""))
    return expression


def phone_digits(text: str) -> str:
    """The national number's digits (a leading US country code dropped), or "" if too short."""
    digits = re.sub(r"\D", "", text or "")
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return digits if len(digits) >= MIN_PHONE_DIGITS else ""


def parse_date(text: str) -> dt.date | None:
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def search_patients(query: str, limit: int = SEARCH_LIMIT) -> list[Patient]:
    """Patients matching every word of ``query`` on name, chart number or date of birth,
    or, for a query of digits, on phone or chart number. Surnames that start with the
    query come first."""
    query = query.strip()
    if len(query) < MIN_QUERY_LENGTH:
        return []
    patients = Patient.objects.all()
    if PHONE_LIKE.match(query) and parse_date(query) is None:
        digits = re.sub(r"\D", "", query)
        condition = Q(chart_number__icontains=query)
        if len(digits) >= 3:
            patients = patients.alias(phone_digits=digits_expression("phone"))
            condition |= Q(phone_digits__contains=digits)
        patients = patients.filter(condition)
    else:
        for word in re.split(r"[\s,]+", query):
            if not word:
                continue
            condition = (
                Q(last_name__icontains=word)
                | Q(first_name__icontains=word)
                | Q(chart_number__iexact=word)
            )
            born = parse_date(word)
            if born is not None:
                condition |= Q(date_of_birth=born)
            patients = patients.filter(condition)
    first_word = re.split(r"[\s,]+", query)[0]
    ranked = patients.annotate(
        rank=Case(
            When(last_name__istartswith=first_word, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        )
    ).order_by("rank", "last_name", "first_name", "pk")
    return list(ranked[:limit])


@dataclass
class LikelyDuplicate:
    patient: Patient
    reasons: list[str] = field(default_factory=list)


def likely_duplicates(
    *,
    first_name: str = "",
    last_name: str = "",
    date_of_birth: dt.date | None = None,
    phone: str = "",
    limit: int = 5,
    of: Patient | None = None,
) -> list[LikelyDuplicate]:
    """Existing patients who are probably the person about to be created (or, with ``of``,
    the same person as that patient, who is left out along with every patient marked as
    not a duplicate of them): the same name and date of birth, or the same phone number.
    One query."""
    first_name, last_name = first_name.strip(), last_name.strip()
    same_name = None
    if first_name and last_name and date_of_birth:
        # A patient imported without a date of birth is listed on the name alone: the
        # person being entered may well be them, and the front desk decides.
        same_name = Q(first_name__iexact=first_name, last_name__iexact=last_name) & (
            Q(date_of_birth=date_of_birth) | Q(date_of_birth__isnull=True)
        )
    digits = phone_digits(phone)
    # Match on the last digits so "+1 555 010 1234" and "555-010-1234" agree.
    same_phone = Q(phone_digits__endswith=digits) if digits else None
    conditions = [c for c in (same_name, same_phone) if c is not None]
    if not conditions:
        return []
    condition = conditions[0]
    for extra in conditions[1:]:
        condition |= extra
    candidates = Patient.objects.alias(phone_digits=digits_expression("phone")).filter(condition)
    if of is not None:
        candidates = candidates.exclude(pk=of.pk).exclude(pk__in=_told_apart(of.pk))
    candidates = candidates.order_by("last_name", "first_name", "pk")[:limit]
    found = []
    for patient in candidates:
        reasons = []
        if (
            same_name is not None
            and patient.first_name.strip().lower() == first_name.lower()
            and patient.last_name.strip().lower() == last_name.lower()
        ):
            if patient.date_of_birth is None:
                reasons.append("same name, date of birth unknown")
            elif patient.date_of_birth == date_of_birth:
                reasons.append("same name and date of birth")
        if digits and phone_digits(patient.phone).endswith(digits):
            reasons.append("same phone")
        found.append(LikelyDuplicate(patient, reasons or ["similar details"]))
    return found


def duplicates_of_patient(patient: Patient, limit: int = 5) -> list[LikelyDuplicate]:
    """Other patients who look like ``patient`` and were not marked as different people."""
    return likely_duplicates(
        first_name=patient.first_name,
        last_name=patient.last_name,
        date_of_birth=patient.date_of_birth,
        phone=patient.phone,
        limit=limit,
        of=patient,
    )


def _told_apart(patient_id: int):
    """The ids of the patients marked as not duplicates of ``patient_id`` (a subquery)."""
    pairs = DistinctPatientPair.objects.filter(Q(first_id=patient_id) | Q(second_id=patient_id))
    return pairs.annotate(
        other=Case(
            When(first_id=patient_id, then=F("second_id")),
            default=F("first_id"),
            output_field=IntegerField(),
        )
    ).values("other")


def mark_not_duplicates(one: Patient, other: Patient, *, by) -> bool:
    """Record that ``one`` and ``other`` are different people, so the duplicate warning does
    not pair them again. Returns False when the pair was already marked (a double click)."""
    if one.pk == other.pk:
        raise ValueError("A patient cannot be told apart from themselves.")
    first, second = sorted((one, other), key=lambda p: p.pk)
    try:
        # A savepoint: the unique pair settles two clicks at once without breaking the
        # caller's transaction.
        with transaction.atomic():
            DistinctPatientPair.objects.create(
                practice_id=first.practice_id, first=first, second=second, marked_by=by
            )
    except IntegrityError:
        return False
    return True

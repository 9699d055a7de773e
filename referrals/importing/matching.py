"""Which rows are new and which are already known: offices, doctors, patients, referrals.

Offices and doctors (a few hundred per practice) are loaded once. Patients and referrals
(up to hundreds of thousands) are looked up one batch at a time by the batch's chart
numbers, so memory stays bounded by the batch and by the small per-row keys kept to find
duplicates and conflicting patients across the whole file.
"""

import datetime as dt
from dataclasses import dataclass, field

from ..models import Patient, Referral, ReferringOffice, ReferringProvider
from .parsing import ParsedRow, RowError

OfficeKey = tuple[str, str]
ProviderKey = tuple[OfficeKey, str, str]


def _norm(value: str) -> str:
    return " ".join(value.split()).casefold()


def office_key(name: str, zip_code: str) -> OfficeKey:
    """Offices are the same office when name and ZIP match, ignoring case and spaces."""
    return _norm(name), "".join(zip_code.split()).casefold()


def _identity(first: str, last: str, dob: dt.date) -> int:
    # A hash, not the names: one int per chart number keeps memory small on big files.
    return hash((_norm(first), _norm(last), dob))


@dataclass(slots=True)
class Row:
    """A data line on its way through check and import."""

    line: int
    parsed: ParsedRow | None
    errors: list[RowError]
    matched_referral: bool = False  # the referral already exists: nothing is written
    patient_id: int | None = None
    patient_new: bool = False
    office_key: OfficeKey | None = None
    office_new: bool = False
    provider_key: ProviderKey | None = None
    provider_new: bool = False

    @property
    def ok(self) -> bool:
        return self.parsed is not None and not self.errors


@dataclass
class Tally:
    """What the rows add up to, in numbers for the user."""

    referrals_created: int = 0
    referrals_matched: int = 0
    events_created: int = 0
    patients_created: int = 0
    offices_created: int = 0
    providers_created: int = 0
    matched_patients: set[int] = field(default_factory=set)
    matched_offices: set[int] = field(default_factory=set)
    matched_providers: set[int] = field(default_factory=set)

    def as_counts(self) -> dict[str, int]:
        return {
            "referrals_created": self.referrals_created,
            "referrals_matched": self.referrals_matched,
            "events_created": self.events_created,
            "patients_created": self.patients_created,
            "patients_matched": len(self.matched_patients),
            "offices_created": self.offices_created,
            "offices_matched": len(self.matched_offices),
            "providers_created": self.providers_created,
            "providers_matched": len(self.matched_providers),
        }


class Matcher:
    """Decides, row by row, what exists and what must be created, and finds rows that
    contradict each other or the database. Works inside the practice's scope."""

    def __init__(self):
        self.tally = Tally()
        self.offices: dict[OfficeKey, int] = {}
        # The name each office is (or will be) stored under, for the preview.
        self.office_names: dict[OfficeKey, str] = {}
        chosen: dict[int, OfficeKey] = {}
        # Several offices may share a name and ZIP (not merged yet): use the oldest
        # active one, always the same.
        for pk, name, zip_code in ReferringOffice.objects.order_by("is_archived", "id").values_list(
            "id", "name", "zip_code"
        ):
            key = office_key(name, zip_code)
            if key not in self.offices:
                self.offices[key] = pk
                self.office_names[key] = name
                chosen[pk] = key
        self.providers: dict[ProviderKey, int] = {}
        for pk, office_id, first, last in ReferringProvider.objects.order_by(
            "is_archived", "id"
        ).values_list("id", "office_id", "first_name", "last_name"):
            if office_id in chosen:
                self.providers.setdefault((chosen[office_id], _norm(first), _norm(last)), pk)
        self.new_offices: set[OfficeKey] = set()
        self._office_keys: dict[OfficeKey, OfficeKey] = {}
        self.new_providers: set[ProviderKey] = set()
        # chart number -> (identity hash, first line, created by this import)
        self.patients_seen: dict[str, tuple[int, int, bool]] = {}
        # (chart number, referral date, office) -> first line
        self.referrals_seen: dict[tuple[str, dt.date, OfficeKey | None], int] = {}

    def resolve(self, rows: list[Row]) -> None:
        """Match a batch of parsed rows; adds errors to rows that cannot be imported."""
        charts = {r.parsed.chart_number for r in rows if r.ok}
        if not charts:
            return
        known_patients: dict[str, tuple[int, int]] = {}
        for pk, chart, first, last, dob in (
            # exclude(""): lets PostgreSQL use the partial unique index on chart numbers.
            Patient.objects.filter(chart_number__in=charts)
            .exclude(chart_number="")
            .order_by()
            .values_list("id", "chart_number", "first_name", "last_name", "date_of_birth")
        ):
            known_patients[chart] = (pk, _identity(first, last, dob))
        # By patient id: the referral table's patient index, not a join over all referrals.
        known_referrals = set()
        if known_patients:
            known_referrals = set(
                Referral.objects.filter(patient_id__in=[v[0] for v in known_patients.values()])
                .order_by()
                .values_list("patient_id", "received_on", "referring_office_id")
            )
        for row in rows:
            if row.ok:
                self._resolve_row(row, known_patients, known_referrals)

    def _resolve_row(self, row: Row, known_patients, known_referrals) -> None:
        p = row.parsed
        identity = _identity(p.first_name, p.last_name, p.date_of_birth)
        seen = self.patients_seen.get(p.chart_number)
        known = known_patients.get(p.chart_number)
        if seen is not None:
            if seen[0] != identity:
                row.errors.append(
                    RowError(
                        row.line,
                        "chart_number",
                        f"This chart number is used on line {seen[1]} for a patient with a "
                        "different name or date of birth.",
                    )
                )
        elif known is not None and known[1] != identity:
            row.errors.append(
                RowError(
                    row.line,
                    "chart_number",
                    "This chart number already belongs to a patient with a different name "
                    "or date of birth.",
                )
            )
        okey = None
        if p.office_name:
            # One shared key per office: every row's duplicate key points to it.
            okey = office_key(p.office_name, p.office_zip)
            okey = self._office_keys.setdefault(okey, okey)
        referral_key = (p.chart_number, p.received_on, okey)
        first_line = self.referrals_seen.get(referral_key)
        if first_line is not None:
            row.errors.append(
                RowError(
                    row.line,
                    "",
                    f"Duplicate of line {first_line}: same chart_number, referral_date and "
                    "referring office.",
                )
            )
        if row.errors:
            return

        self.referrals_seen[referral_key] = row.line
        tally = self.tally
        if seen is None:
            self.patients_seen[p.chart_number] = (identity, row.line, known is None)
            if known is None:
                tally.patients_created += 1
            else:
                tally.matched_patients.add(known[0])
        row.patient_new = known is None or (seen is not None and seen[2])
        row.patient_id = known[0] if known is not None else None

        office_id = None
        if okey is not None:
            row.office_key = okey
            office_id = self.offices.get(okey)
            if okey in self.new_offices:
                row.office_new = True
            elif office_id is None:
                row.office_new = True
                self.new_offices.add(okey)
                self.office_names[okey] = p.office_name
                tally.offices_created += 1
            else:
                tally.matched_offices.add(office_id)
            if p.provider_last:
                pkey = (okey, _norm(p.provider_first), _norm(p.provider_last))
                row.provider_key = pkey
                provider_id = self.providers.get(pkey)
                if pkey in self.new_providers:
                    row.provider_new = True
                elif provider_id is None:
                    row.provider_new = True
                    self.new_providers.add(pkey)
                    tally.providers_created += 1
                else:
                    tally.matched_providers.add(provider_id)

        if (
            known is not None
            and not row.office_new
            and (known[0], p.received_on, office_id) in known_referrals
        ):
            row.matched_referral = True
            tally.referrals_matched += 1
        else:
            tally.referrals_created += 1
            tally.events_created += 1 + len(p.milestones)

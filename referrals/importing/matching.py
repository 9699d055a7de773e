"""Which rows are new and which are already known: offices, doctors, patients, referrals.

Offices and doctors (a few hundred per practice) are loaded once. Patients and referrals
(up to hundreds of thousands) are looked up one batch at a time by the batch's chart
numbers, so memory stays bounded by the batch and by the small per-row keys kept to find
duplicates and conflicting patients across the whole file.
"""

import datetime as dt
from dataclasses import dataclass, field

from ..models import Patient, Referral
from .offices import FileOffices, OfficeIndex
from .parsing import ParsedRow, RowError

# An office of this import: "#<id>" for an existing office, else the office's file key.
OfficeKey = str
ProviderKey = tuple[OfficeKey, str, str]


def _norm(value: str) -> str:
    return " ".join(value.split()).casefold()


def _names(first: str, last: str) -> int:
    # A hash, not the names: one int per chart number keeps memory small on big files.
    return hash((_norm(first), _norm(last)))


def _same_patient(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """(names hash, DOB ordinal or 0 when unknown): an unknown date of birth on either
    side matches on the names alone (the chart number already matched)."""
    return a[0] == b[0] and (not a[1] or not b[1] or a[1] == b[1])


def _identity(first: str, last: str, dob: dt.date | None) -> tuple[int, int]:
    return _names(first, last), dob.toordinal() if dob else 0


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

    def __init__(
        self,
        confirmed_offices: dict[str, str] | None = None,
        column_names: dict[str, str] | None = None,
    ):
        self.tally = Tally()
        # A mapped file: errors name the file's columns, as the parser's do (found by the
        # property tests: a chart number conflict named 'chart_number', not 'Chart #').
        self.column_names = column_names or {}
        # The admin's answers for uncertain offices: file key -> office id, or "new".
        self.confirmed_offices = confirmed_offices or {}
        # Offices and doctors: two queries, once per import.
        self.index = OfficeIndex()
        # Office key -> office id, for existing offices and those written so far.
        self.offices: dict[OfficeKey, int] = {}
        # The name each office is (or will be) stored under, for the preview.
        self.office_names: dict[OfficeKey, str] = {}
        # Existing doctors by (office id, first, last), normalised.
        self._known_providers: dict[tuple[int, str, str], int] = {}
        for pk, office_id, first, last in self.index.providers:
            self._known_providers.setdefault((office_id, _norm(first), _norm(last)), pk)
        self.providers: dict[ProviderKey, int] = {}
        self.new_offices: set[OfficeKey] = set()
        self.new_providers: set[ProviderKey] = set()
        self._file_offices = FileOffices()
        # The file's office key -> this import's office key.
        self._office_of_group: dict[str, OfficeKey] = {}
        # NPI -> provider key, so one doctor is one doctor under two spellings.
        self._provider_of_npi: dict[str, ProviderKey] = {}
        # chart number -> (identity, first line, created by this import)
        self.patients_seen: dict[str, tuple[tuple[int, int], int, bool]] = {}
        # (chart number, referral date, office) -> first line
        self.referrals_seen: dict[tuple[str, dt.date, OfficeKey | None], int] = {}

    def _office(self, p: ParsedRow) -> OfficeKey | None:
        """The office of a row: matched once per office of the file (see offices.py)."""
        npi = p.provider_npi
        external_id = p.office_external_id
        if not (p.office_name or npi or external_id):
            return None
        group, first_time = self._file_offices.group(p.office_name, p.office_zip, npi, external_id)
        if not first_time:
            return self._office_of_group[group]
        pk, _how = self.index.certain(p.office_name, p.office_zip, npi, external_id)
        if pk is None:
            confirmed = self.confirmed_offices.get(group, "")
            if confirmed.isdigit() and int(confirmed) in self.index.by_id:
                pk = int(confirmed)
        if pk is None:
            # A new office (or a similar one the admin has not confirmed: kept apart).
            key = group
            self.office_names[key] = p.office_name or self._doctor_office_name(p)
        else:
            key = f"#{pk}"
            self.offices[key] = pk
            self.office_names[key] = self.index.by_id[pk].name
        self._office_of_group[group] = key
        return key

    @staticmethod
    def _doctor_office_name(p: ParsedRow) -> str:
        # A row with an NPI or PMS id but no business name: the office is named after the
        # doctor, as the mapping does for a doctor without a business name.
        name = " ".join(x for x in (p.provider_first, p.provider_last) if x)
        return f"Dr. {name}" if name else "Unnamed office"

    def _provider(self, p: ParsedRow, okey: OfficeKey) -> ProviderKey | None:
        npi = p.provider_npi
        if not p.provider_last:
            return None
        if npi and npi in self._provider_of_npi:
            return self._provider_of_npi[npi]
        pkey = (okey, _norm(p.provider_first), _norm(p.provider_last))
        if pkey not in self.providers and pkey not in self.new_providers:
            known = self.index.npi.get(npi) if npi else None
            if known is not None and f"#{known[1]}" == okey:
                self.providers[pkey] = known[0]
            elif okey in self.offices:
                pk = self._known_providers.get(
                    (self.offices[okey], _norm(p.provider_first), _norm(p.provider_last))
                )
                if pk is not None:
                    self.providers[pkey] = pk
        if npi:
            self._provider_of_npi[npi] = pkey
        return pkey

    def resolve(self, rows: list[Row]) -> None:
        """Match a batch of parsed rows; adds errors to rows that cannot be imported."""
        charts = {r.parsed.chart_number for r in rows if r.ok}
        if not charts:
            return
        known_patients: dict[str, tuple[int, tuple[int, int]]] = {}
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

    def _label(self, column: str) -> str:
        return self.column_names.get(column) or column

    def _resolve_row(self, row: Row, known_patients, known_referrals) -> None:
        p = row.parsed
        identity = _identity(p.first_name, p.last_name, p.date_of_birth)
        seen = self.patients_seen.get(p.chart_number)
        known = known_patients.get(p.chart_number)
        if seen is not None:
            if not _same_patient(seen[0], identity):
                row.errors.append(
                    RowError(
                        row.line,
                        self._label("chart_number"),
                        f"This chart number is used on line {seen[1]} for a patient with a "
                        "different name or date of birth.",
                    )
                )
        elif known is not None and not _same_patient(known[1], identity):
            row.errors.append(
                RowError(
                    row.line,
                    self._label("chart_number"),
                    "This chart number already belongs to a patient with a different name "
                    "or date of birth.",
                )
            )
        okey = self._office(p)
        referral_key = (p.chart_number, p.received_on, okey)
        first_line = self.referrals_seen.get(referral_key)
        if first_line is not None:
            row.errors.append(
                RowError(
                    row.line,
                    "",
                    f"Duplicate of line {first_line}: same {self._label('chart_number')}, "
                    f"{self._label('referral_date')} and referring office.",
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
            office_id = self.offices.get(okey) if okey.startswith("#") else None
            if okey in self.new_offices:
                row.office_new = True
            elif office_id is None:
                row.office_new = True
                self.new_offices.add(okey)
                tally.offices_created += 1
            else:
                tally.matched_offices.add(office_id)
            pkey = self._provider(p, okey)
            if pkey is not None:
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

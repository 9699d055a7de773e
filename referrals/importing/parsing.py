"""One CSV row to a referral's history: checked on its own, without the database.

Each problem is a :class:`RowError` naming the line and the column. Messages never repeat
a patient's name, date of birth or chart number (they are stored on the job and shown on
pages); other values are echoed so the user can find them.
"""

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from .. import workflow
from ..choices import OFFICE_SOURCES, MilestoneKind, SourceType
from ..models import MilestoneEvent, Patient, ReferringOffice, ReferringProvider
from .reading import RawRow
from .vocabulary import (
    CASE_WORDS,
    COLUMNS,
    DECISION_WORDS,
    SOURCE_WORDS,
    spelling_key,
    split_doctor_name,
)

DECLINE_REASON = "Imported: declined"

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NPI = re.compile(r"^\d{10}$")
# dates.UNKNOWN: the export's placeholder for "no date of birth".
UNKNOWN_DATE = "unknown"


def _max_length(model, name: str) -> int:
    return model._meta.get_field(name).max_length


# Longest value each column may hold: the model field it is stored in.
MAX_LENGTHS = {
    "chart_number": _max_length(Patient, "chart_number"),
    "patient_first_name": _max_length(Patient, "first_name"),
    "patient_last_name": _max_length(Patient, "last_name"),
    "referring_office": _max_length(ReferringOffice, "name"),
    "office_zip": _max_length(ReferringOffice, "zip_code"),
}
PROVIDER_NAME_MAX = min(
    _max_length(ReferringProvider, "first_name"), _max_length(ReferringProvider, "last_name")
)
_PRODUCTION_FIELD = MilestoneEvent._meta.get_field("production")
PRODUCTION_MAX = Decimal(10) ** (_PRODUCTION_FIELD.max_digits - _PRODUCTION_FIELD.decimal_places)

# The column a milestone comes from, to name it when the journey is refused.
_KIND_COLUMN = {
    MilestoneKind.CONSULT_COMPLETED: "consult_date",
    MilestoneKind.TREATMENT_ACCEPTED: "decision",
    MilestoneKind.TREATMENT_DECLINED: "decision",
    MilestoneKind.SURGERY_COMPLETED: "surgery_date",
}
# Columns whose values are PHI: never echoed in a message.
_PRIVATE = frozenset({"chart_number", "patient_first_name", "patient_last_name", "patient_dob"})


@dataclass(slots=True)
class RowError:
    line: int | None
    column: str  # "" for a problem with the whole line
    message: str

    def as_dict(self) -> dict:
        return {"line": self.line, "column": self.column, "message": self.message}


@dataclass(slots=True)
class Milestone:
    kind: str
    on: dt.date
    reason: str = ""
    production: Decimal | None = None


@dataclass(slots=True)
class ParsedRow:
    line: int
    chart_number: str
    first_name: str
    last_name: str
    date_of_birth: dt.date | None  # None: the export says the date of birth is unknown
    received_on: dt.date
    source_type: str
    case_type: str
    office_name: str = ""
    office_zip: str = ""
    provider_first: str = ""
    provider_last: str = ""
    # After 'received': consult, decision, surgery, oldest first.
    milestones: list[Milestone] = field(default_factory=list)
    status: str = ""
    production: Decimal | None = None
    provider_npi: str = ""
    office_external_id: str = ""


def _choices_hint(words: dict[str, str]) -> str:
    return ", ".join(sorted(set(words.values())))


class RowParser:
    """Turns RawRows into ParsedRows (or errors). ``today`` is the practice's date:
    history is in the past, so a later date is a typo."""

    def __init__(
        self,
        today: dt.date,
        *,
        column_names: dict[str, str] | None = None,
        date_label: str = "YYYY-MM-DD",
    ):
        self.today = today
        # A mapped file: errors name the file's column (canonical -> file header) and say
        # the date format the mapping reads.
        self.column_names = column_names or {}
        self.date_label = date_label

    def parse(self, raw: RawRow) -> tuple[ParsedRow | None, list[RowError]]:
        if raw.values is None:
            width = raw.expected_width or len(COLUMNS)
            what = "the separator" if raw.expected_width else "a comma"
            return None, [
                RowError(
                    raw.line,
                    "",
                    f"This line has {raw.width} values but the header has {width} "
                    f"(a value with {what} needs double quotes around it).",
                )
            ]
        return _RowCheck(raw.line, raw.values, self.today, self).run()


class _RowCheck:
    def __init__(self, line: int, values: dict[str, str], today: dt.date, parser: RowParser):
        self.line = line
        self.v = values
        self.today = today
        self.names = parser.column_names
        self.date_label = parser.date_label
        self.errors: list[RowError] = []

    def label(self, column: str) -> str:
        return self.names.get(column, column)

    def error(self, column: str, message: str) -> None:
        self.errors.append(RowError(self.line, self.label(column), message))

    def text(self, column: str, *, required: bool) -> str:
        value = self.v[column]
        if not value:
            if required:
                self.error(column, f"{self.label(column)} is required.")
            return ""
        limit = MAX_LENGTHS.get(column)
        if limit and len(value) > limit:
            self.error(
                column,
                f"{self.label(column)} is too long: {len(value)} characters, at most {limit}.",
            )
            return ""
        return value

    def date(self, column: str, *, required: bool) -> dt.date | None:
        value = self.v[column]
        name = self.label(column)
        if not value:
            if required:
                self.error(column, f"{name} is required (a date as {self.date_label}).")
            return None
        shown = "" if column in _PRIVATE else f" '{value}'"
        if not _ISO_DATE.match(value):
            self.error(column, f"{name}{shown} is not a date as {self.date_label}.")
            return None
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            self.error(column, f"{name}{shown} is not a real date.")
            return None
        if day > self.today:
            self.error(column, f"{name}{shown} is in the future: only past history is imported.")
            return None
        return day

    def choice(self, column: str, words: dict[str, str]) -> str:
        value = self.v[column]
        name = self.label(column)
        if not value:
            self.error(column, f"{name} is required (one of: {_choices_hint(words)}).")
            return ""
        chosen = words.get(spelling_key(value))
        if chosen is None:
            hint = "Map it to one of" if self.names else "Use one of"
            self.error(column, f"{name} '{value}' is not known. {hint}: {_choices_hint(words)}.")
            return ""
        return chosen

    def production(self) -> Decimal | None:
        value = self.v["production"]
        if not value:
            return None
        name = self.label("production")
        cleaned = value.replace("$", "").replace(",", "").replace(" ", "")
        try:
            amount = Decimal(cleaned)
        except InvalidOperation:
            self.error("production", f"{name} '{value}' is not an amount (e.g. 1234.50).")
            return None
        if not amount.is_finite() or amount < 0:
            self.error("production", f"{name} '{value}' must be zero or more.")
            return None
        # Too large first (found by the property tests): quantizing '1e30' to cents needs
        # more digits than the decimal context has, which raised InvalidOperation (a 500).
        if amount >= PRODUCTION_MAX:
            self.error("production", f"{name} '{value}' is too large.")
            return None
        if amount != amount.quantize(Decimal("0.01")):
            self.error("production", f"{name} '{value}' has more than 2 decimals.")
            return None
        return amount.quantize(Decimal("0.01"))

    def run(self) -> tuple[ParsedRow | None, list[RowError]]:
        chart = self.text("chart_number", required=True)
        first = self.text("patient_first_name", required=True)
        last = self.text("patient_last_name", required=True)
        if self.v["patient_dob"] == UNKNOWN_DATE:
            dob = None
        else:
            dob = self.date("patient_dob", required=True)
        received = self.date("referral_date", required=True)
        source = self.choice("source_type", SOURCE_WORDS)
        case = self.choice("case_type", CASE_WORDS)
        office_name = self.text("referring_office", required=False)
        office_zip = self.text("office_zip", required=False)
        provider = self.v["referring_provider"]
        consult = self.date("consult_date", required=False)
        decision_on = self.date("decision_date", required=False)
        surgery = self.date("surgery_date", required=False)
        production = self.production()
        decision = self._decision()
        npi = self.v.get("provider_npi", "").strip()
        if npi and not _NPI.match(npi):
            self.error("provider_npi", f"{self.label('provider_npi')} '{npi}' is not 10 digits.")
        external_id = self.v.get("office_external_id", "").strip()[:100]

        if source in OFFICE_SOURCES and not self.v["referring_office"]:
            label = SourceType(source).label
            self.error("referring_office", f"A '{label}' referral needs its referring office.")
        provider_first = provider_last = ""
        if provider and source in OFFICE_SOURCES:
            split = split_doctor_name(provider)
            if split is None:
                self.error(
                    "referring_provider",
                    f"{self.label('referring_provider')} '{provider}' needs a first and a "
                    "last name "
                    "(e.g. 'Dr. Jane Smith' or 'Smith, Jane').",
                )
            elif max(len(split[0]), len(split[1])) > PROVIDER_NAME_MAX:
                self.error(
                    "referring_provider",
                    f"{self.label('referring_provider')} is too long: a first or last name "
                    "has more than "
                    f"{PROVIDER_NAME_MAX} characters.",
                )
            else:
                provider_first, provider_last = split
        if dob and received and dob > received:
            self.error(
                "patient_dob",
                f"{self.label('patient_dob')} is after {self.label('referral_date')}.",
            )

        self._journey_fields(decision)
        self._dates_in_order(received, consult, decision_on, surgery)
        if self.errors:
            return None, self.errors

        milestones = []
        if consult:
            milestones.append(Milestone(MilestoneKind.CONSULT_COMPLETED, consult))
        if decision == "accepted":
            milestones.append(Milestone(MilestoneKind.TREATMENT_ACCEPTED, decision_on))
        elif decision == "declined":
            milestones.append(
                Milestone(MilestoneKind.TREATMENT_DECLINED, decision_on, reason=DECLINE_REASON)
            )
        if surgery:
            milestones.append(
                Milestone(MilestoneKind.SURGERY_COMPLETED, surgery, production=production)
            )
        # The state machine has the last word on which journeys are possible.
        state = workflow.INITIAL
        for milestone in milestones:
            try:
                state = workflow.apply(state, milestone.kind)
            except workflow.IllegalTransition as exc:
                self.error(_KIND_COLUMN[milestone.kind], str(exc))
                return None, self.errors
        is_office = source in OFFICE_SOURCES
        return (
            ParsedRow(
                line=self.line,
                chart_number=chart,
                first_name=first,
                last_name=last,
                date_of_birth=dob,
                received_on=received,
                source_type=source,
                case_type=case,
                # Like intake, a non-office source keeps no office or doctor.
                office_name=" ".join(office_name.split()) if is_office else "",
                office_zip=office_zip if is_office else "",
                provider_first=provider_first,
                provider_last=provider_last,
                milestones=milestones,
                status=state.status,
                production=production,
                provider_npi=npi if is_office else "",
                office_external_id=external_id if is_office else "",
            ),
            [],
        )

    def _decision(self) -> str:
        value = self.v["decision"]
        if not value:
            return ""
        decision = DECISION_WORDS.get(spelling_key(value))
        if decision is None:
            self.error(
                "decision",
                f"{self.label('decision')} '{value}' must be 'accepted', 'declined' or empty.",
            )
        return decision or ""

    def _journey_fields(self, decision: str) -> None:
        # Which journey columns go together; the values were checked on their own above.
        # Messages name the file's columns (found by the property tests: a mapped export was
        # told about 'decision_date' when its column is 'Decision Date').
        v, label = self.v, self.label
        if v["decision"] and not v["decision_date"]:
            self.error(
                "decision_date",
                f"{label('decision_date')} is required when a {label('decision')} is given.",
            )
        if v["decision_date"] and not v["decision"]:
            self.error(
                "decision",
                f"{label('decision')} is required when {label('decision_date')} is given.",
            )
        if v["decision"] and not v["consult_date"]:
            self.error(
                "decision",
                f"A treatment decision follows a consult: {label('consult_date')} is required.",
            )
        if v["surgery_date"] and decision != "accepted" and not (v["decision"] and not decision):
            self.error(
                "surgery_date",
                f"A surgery needs an accepted treatment: {label('decision')} must be 'accepted'.",
            )
        if v["production"] and not v["surgery_date"]:
            self.error(
                "production",
                f"{label('production')} is recorded with a surgery: "
                f"{label('surgery_date')} is required.",
            )

    def _dates_in_order(self, received, consult, decision_on, surgery) -> None:
        steps = [
            ("referral_date", received),
            ("consult_date", consult),
            ("decision_date", decision_on),
            ("surgery_date", surgery),
        ]
        previous = None
        for column, day in steps:
            if day is None:
                continue
            if previous is not None and day < previous[1]:
                self.error(
                    column,
                    f"{self.label(column)} {day.isoformat()} is before "
                    f"{self.label(previous[0])} "
                    f"{previous[1].isoformat()}: dates must be in order "
                    "(referral, consult, decision, surgery).",
                )
            previous = (column, day)

"""A mapping turns any export into the canonical rows the parser reads: which column holds
which field (or is ignored), how a combined column splits, which of the file's values mean
which of our choices, the date format, constants for absent columns, CDT code ranges and the
offices the admin confirmed. It is JSON (version 1) so it can be stored on a job, saved as a
preset and given to the command with --mapping.

``apply`` streams the file through the mapping and yields ``RawRow``s with the FILE's line
numbers; the parser, matcher and writer are the one code path after that.
"""

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from django.db import models

from ..choices import OFFICE_SOURCES, SourceType
from . import dates, headers, procedures
from .reading import RawRow
from .sources import SourceInfo, read
from .vocabulary import (
    CASE_WORDS,
    COLUMNS,
    DECISION_WORDS,
    SOURCE_WORDS,
    ProcedureStatus,
    spelling_key,
    split_doctor_name,
)

VERSION = 1
EXTRA_COLUMNS = ("provider_npi", "office_external_id")
CANONICAL = COLUMNS + EXTRA_COLUMNS


class MappingProblem(Exception):
    """A mapping (JSON from a file, a preset or a form) that cannot be used."""


class Target(models.TextChoices):
    IGNORE = "", "(ignore this column)"
    CHART_NUMBER = "chart_number", "Chart number"
    PATIENT_FIRST_NAME = "patient_first_name", "Patient first name"
    PATIENT_LAST_NAME = "patient_last_name", "Patient last name"
    PATIENT_NAME = "patient_name", "Patient name (first and last in one column)"
    PATIENT_DOB = "patient_dob", "Patient date of birth"
    REFERRAL_DATE = "referral_date", "Referral date"
    SOURCE_TYPE = "source_type", "Source type"
    REFERRING_OFFICE = "referring_office", "Referring office"
    REFERRING_PROVIDER = "referring_provider", "Referring doctor (full name)"
    PROVIDER_FIRST_NAME = "provider_first_name", "Referring doctor's first name"
    PROVIDER_LAST_NAME = "provider_last_name", "Referring doctor's last name"
    REFERRED_BY = "referred_by", "Referred by (doctor and office in one column)"
    PROVIDER_NPI = "provider_npi", "Referring doctor's NPI"
    OFFICE_EXTERNAL_ID = "office_external_id", "Referring office's id in the PMS"
    OFFICE_ZIP = "office_zip", "Office ZIP code"
    CASE_TYPE = "case_type", "Case type"
    CONSULT_DATE = "consult_date", "Consult date"
    DECISION = "decision", "Decision"
    DECISION_DATE = "decision_date", "Decision date"
    SURGERY_DATE = "surgery_date", "Surgery date"
    PRODUCTION = "production", "Production"
    PROCEDURE_CODE = "procedure_code", "Procedure code (CDT)"
    PROCEDURE_DATE = "procedure_date", "Procedure date"
    PROCEDURE_FEE = "procedure_fee", "Procedure fee"
    PROCEDURE_STATUS = "procedure_status", "Procedure status"


class SplitKind(models.TextChoices):
    LAST_FIRST = "last_first", "Last, First"
    FIRST_LAST = "first_last", "First Last"


VALUE_TARGETS = ("source_type", "case_type", "decision", "procedure_status")
DATE_TARGETS = frozenset(
    {
        "patient_dob",
        "referral_date",
        "consult_date",
        "decision_date",
        "surgery_date",
        "procedure_date",
    }
)
PROCEDURE_TARGETS = frozenset(
    {"procedure_code", "procedure_date", "procedure_fee", "procedure_status"}
)
_STATUS_WORDS = {
    spelling_key(word): status
    for status, words in {
        ProcedureStatus.PLANNED: ["planned", "plan", "tp", "treatment planned", "1", "proposed"],
        ProcedureStatus.COMPLETE: ["complete", "completed", "done", "c", "2", "posted"],
        ProcedureStatus.DELETED: ["deleted", "delete", "void", "voided", "6"],
    }.items()
    for word in words
}
_WORDS = {
    "source_type": SOURCE_WORDS,
    "case_type": CASE_WORDS,
    "decision": DECISION_WORDS,
    "procedure_status": _STATUS_WORDS,
}
# Which file column a canonical column comes from when it is not mapped directly.
_DERIVED_FROM = {
    "patient_first_name": ("patient_name",),
    "patient_last_name": ("patient_name",),
    "referring_provider": ("referred_by", "provider_last_name", "provider_first_name"),
    "referring_office": ("referred_by", "provider_last_name"),
    "consult_date": ("procedure_date",),
    "surgery_date": ("procedure_date",),
    "decision": ("procedure_code", "procedure_status"),
    "decision_date": ("procedure_date",),
    "production": ("procedure_fee",),
    "case_type": ("procedure_code",),
    "source_type": ("referred_by", "referring_office"),
}


@dataclass
class Mapping:
    columns: dict[str, str] = field(default_factory=dict)
    splits: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    date_format: str = "iso"
    defaults: dict[str, str] = field(default_factory=dict)
    code_ranges: list[list[str]] = field(default_factory=list)
    offices: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "version": VERSION,
            "columns": dict(self.columns),
            "splits": dict(self.splits),
            "values": {t: dict(v) for t, v in self.values.items()},
            "date_format": self.date_format,
            "defaults": dict(self.defaults),
            "code_ranges": [list(r) for r in self.code_ranges],
            "offices": dict(self.offices),
        }

    @classmethod
    def from_json(cls, data) -> "Mapping":
        if not isinstance(data, dict):
            raise MappingProblem("A mapping is a JSON object ({...}).")
        if data.get("version") != VERSION:
            raise MappingProblem(
                f"version: this is not a version {VERSION} mapping (got {data.get('version')!r})."
            )
        known = {"version", "columns", "splits", "values", "date_format", "defaults"}
        known |= {"code_ranges", "offices", "name", "description"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise MappingProblem(f"{unknown[0]}: not a key of a mapping.")
        targets = {t.value for t in Target}
        columns = _str_dict(data, "columns")
        for header, target in columns.items():
            if target not in targets:
                raise MappingProblem(f"columns.{header}: '{target}' is not a field.")
        splits = _str_dict(data, "splits")
        kinds = {k.value for k in SplitKind}
        for header, kind in splits.items():
            if kind not in kinds:
                raise MappingProblem(
                    f"splits.{header}: '{kind}' is not one of {', '.join(sorted(kinds))}."
                )
        values_data = data.get("values", {})
        if not isinstance(values_data, dict):
            raise MappingProblem("values: must be an object of objects.")
        values: dict[str, dict[str, str]] = {}
        for target, table in values_data.items():
            if target not in VALUE_TARGETS:
                raise MappingProblem(
                    f"values.{target}: values are mapped only for {VALUE_TARGETS}."
                )
            if not isinstance(table, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in table.items()
            ):
                raise MappingProblem(f"values.{target}: must map text to text.")
            values[target] = dict(table)
        date_format = data.get("date_format", dates.DateFormat.ISO)
        if date_format not in dates.DateFormat.values:
            raise MappingProblem(
                f"date_format: '{date_format}' is not one of {', '.join(dates.DateFormat.values)}."
            )
        defaults = _str_dict(data, "defaults")
        for target in defaults:
            if target not in targets:
                raise MappingProblem(f"defaults.{target}: '{target}' is not a field.")
        ranges = data.get("code_ranges", [])
        if not isinstance(ranges, list) or not all(
            isinstance(r, list) and len(r) == 3 and all(isinstance(x, str) for x in r)
            for r in ranges
        ):
            raise MappingProblem('code_ranges: must be a list of ["D7220", "D7241", "case type"].')
        return cls(
            columns=columns,
            splits=splits,
            values=values,
            date_format=date_format,
            defaults=defaults,
            code_ranges=[list(r) for r in ranges],
            offices=_str_dict(data, "offices"),
        )

    @property
    def procedure_level(self) -> bool:
        mapped = set(self.columns.values())
        return "procedure_code" in mapped or "procedure_date" in mapped

    def targets(self) -> dict[str, str]:
        """Target -> the file header mapped to it."""
        return {t: h for h, t in self.columns.items() if t}

    def problems(self, header: list[str]) -> list[str]:
        """What keeps this mapping from reading a file with this header (empty = usable)."""
        found: list[str] = []
        present = set(header)
        unknown = [h for h in self.columns if self.columns[h] and h not in present]
        if unknown:
            found.append(f"Columns not in the file: {', '.join(unknown)}.")
        counts = Counter(t for h, t in self.columns.items() if t and h in present)
        for target, n in sorted(counts.items()):
            if n > 1:
                label = Target(target).label
                columns = ", ".join(h for h, t in self.columns.items() if t == target)
                found.append(f"{label} is chosen for {n} columns ({columns}): choose one.")
        mapped = set(counts)
        need = [("chart_number", Target.CHART_NUMBER.label)]
        if "patient_name" not in mapped:
            need += [
                ("patient_first_name", Target.PATIENT_FIRST_NAME.label),
                ("patient_last_name", Target.PATIENT_LAST_NAME.label),
            ]
        need += [("patient_dob", Target.PATIENT_DOB.label)]
        need += [("referral_date", Target.REFERRAL_DATE.label)]
        missing = [label for target, label in need if target not in mapped]
        if "referral_date" in {t for t, _ in need if t not in mapped} and self.defaults.get(
            "referral_date"
        ):
            missing.remove(Target.REFERRAL_DATE.label)
        if missing:
            found.append(f"Choose a column for: {', '.join(missing)}.")
        for header_name, target in self.columns.items():
            if target == "patient_name" and self.splits.get(header_name) not in SplitKind.values:
                found.append(f"Say how '{header_name}' is split (Last, First or First Last).")
        return found


def _str_dict(data: dict, key: str) -> dict[str, str]:
    value = data.get(key, {})
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise MappingProblem(f"{key}: must be an object mapping text to text.")
    return dict(value)


# --- suggestions -----------------------------------------------------------------------


def suggest(info: SourceInfo, stream: BinaryIO | None = None) -> Mapping:
    """A first mapping for a file: columns from the header dictionary, the date format
    from the date columns' values (the samples, or up to 200 rows of ``stream``), value
    mappings pre-filled from our spellings."""
    columns = headers.suggest_columns(info.header)
    mapping = Mapping(columns={h: t for h, t in columns.items()})
    for name, target in columns.items():
        if target == "patient_name":
            samples = info.samples.get(name, [])
            comma = sum("," in s for s in samples)
            mapping.splits[name] = (
                SplitKind.LAST_FIRST if comma * 2 >= len(samples) else SplitKind.FIRST_LAST
            )
    date_headers = [h for h, t in columns.items() if t in DATE_TARGETS]
    date_values: list[str] = []
    if stream is not None and date_headers:
        positions = [info.header.index(h) for h in date_headers]
        for n, (_line, values) in enumerate(read(stream, info)):
            date_values += [values[p] for p in positions if p < len(values)]
            if n >= dates.DETECT_SAMPLES:
                break
        stream.seek(0)
    else:
        for h in date_headers:
            date_values += info.samples.get(h, [])
    fmt, _ambiguous = dates.detect(date_values)
    mapping.date_format = fmt or dates.DateFormat.ISO
    for target in VALUE_TARGETS:
        header_name = mapping.targets().get(target)
        if header_name:
            mapping.values[target] = suggest_values(target, info.samples.get(header_name, []))
    if "procedure_status" in mapping.targets():
        mapping.values.setdefault("procedure_status", {})
    return mapping


def suggest_values(target: str, values: Iterable[str]) -> dict[str, str]:
    """Each file value that a known spelling identifies -> our value; others are left out
    (the user maps them, or the parser refuses them naming the line and column)."""
    words = _WORDS[target]
    suggested = {}
    for value in values:
        ours = words.get(spelling_key(value))
        if ours is not None:
            suggested[value] = ours
    return suggested


def distinct_values(
    stream: BinaryIO, info: SourceInfo, mapping: Mapping, target: str, limit: int = 200
) -> list[tuple[str, int]]:
    """The distinct values of the column mapped to ``target`` with their counts, most
    frequent first (at most ``limit``). Reads the whole file, streamed."""
    header_name = mapping.targets().get(target)
    if not header_name or header_name not in info.header:
        return []
    position = info.header.index(header_name)
    counts: Counter[str] = Counter()
    for _line, values in read(stream, info):
        if position < len(values) and values[position]:
            counts[values[position]] += 1
    stream.seek(0)
    return counts.most_common(limit)


# --- applying --------------------------------------------------------------------------


def source_column(mapping: Mapping, canonical_column: str) -> str:
    """The file header a canonical column came from, to name it in messages (the canonical
    name when no column of the file feeds it)."""
    targets = mapping.targets()
    if canonical_column in targets:
        return targets[canonical_column]
    for target in _DERIVED_FROM.get(canonical_column, ()):
        if target in targets:
            return targets[target]
    return canonical_column


def column_names(mapping: Mapping) -> dict[str, str]:
    return {c: source_column(mapping, c) for c in CANONICAL}


def _split_patient_name(value: str, kind: str) -> tuple[str, str]:
    """(first, last). 'Smith, Jane' is last-first whatever the kind says."""
    value = " ".join(value.split())
    if "," in value:
        last, _, first = value.partition(",")
        return first.strip(), last.strip()
    words = value.split(" ")
    if len(words) < 2:
        return "", value
    if kind == SplitKind.LAST_FIRST:
        return " ".join(words[1:]), words[0]
    return " ".join(words[:-1]), words[-1]


_CREDENTIAL_WORDS = frozenset(
    {"dds", "dmd", "md", "phd", "ms", "msd", "mds", "bds", "fagd", "magd", "facs"}
)


def _looks_like_doctor(text: str) -> bool:
    words = [w.strip(".,").casefold() for w in text.split()]
    return bool(words) and (words[0] in {"dr", "doctor"} or words[-1] in _CREDENTIAL_WORDS)


def split_referred_by(value: str) -> tuple[str, str]:
    """'Dr. Jane Smith, Smile Dental' -> ('Dr. Jane Smith', 'Smile Dental');
    'Dr. Jane Smith, DDS, Smile Dental' -> ('Dr. Jane Smith, DDS', 'Smile Dental');
    'Dr. Jane Smith' -> ('Dr. Jane Smith', ''); 'Smile Dental' -> ('', 'Smile Dental')."""
    value = " ".join(value.split())
    if not value:
        return "", ""
    parts = [p.strip() for p in value.split(",")]
    if not _looks_like_doctor(parts[0]):
        return "", value
    doctor = [parts[0]]
    rest = parts[1:]
    while rest and rest[0].replace(".", "").casefold() in _CREDENTIAL_WORDS:
        doctor.append(rest.pop(0))
    return ", ".join(doctor), ", ".join(rest)


def _map_value(mapping: Mapping, target: str, value: str) -> str:
    table = mapping.values.get(target)
    if table and value in table:
        return table[value]
    if target == "procedure_status":
        return _STATUS_WORDS.get(spelling_key(value), value)
    return value


def _rows(stream: BinaryIO, info: SourceInfo, mapping: Mapping):
    """(line, canonical values dict | None, width) for each data row."""
    fmt = dates.DateFormat(mapping.date_format)
    width = len(info.header)
    plan = [
        (i, mapping.columns.get(h, ""), mapping.splits.get(h, ""))
        for i, h in enumerate(info.header)
        if mapping.columns.get(h, "")
    ]
    has_source = "source_type" in mapping.targets()
    procedure_level = mapping.procedure_level
    for line, fields in read(stream, info):
        if len(fields) != width:
            yield line, None, len(fields)
            continue
        v = dict.fromkeys(CANONICAL, "")
        extra: dict[str, str] = {}
        provider_first = provider_last = ""
        for position, target, split in plan:
            value = fields[position]
            if not value:
                continue
            if target in DATE_TARGETS:
                # Unreadable dates stay as they are: the parser names them with the format.
                value = dates.to_iso(value, fmt) or value
            elif target in VALUE_TARGETS:
                value = _map_value(mapping, target, value)
            if target == "patient_name":
                v["patient_first_name"], v["patient_last_name"] = _split_patient_name(value, split)
            elif target == "referred_by":
                doctor, office = split_referred_by(value)
                v["referring_provider"] = v["referring_provider"] or doctor
                v["referring_office"] = v["referring_office"] or office
            elif target == "provider_first_name":
                provider_first = value
            elif target == "provider_last_name":
                provider_last = value
            elif target in PROCEDURE_TARGETS:
                extra[target] = value
            else:
                v[target] = value
        if (provider_first or provider_last) and not v["referring_provider"]:
            v["referring_provider"] = " ".join(p for p in (provider_first, provider_last) if p)
        for target, constant in mapping.defaults.items():
            if target in v and not v[target]:
                v[target] = constant
        if not has_source and not v["source_type"]:
            has_referrer = v["referring_office"] or v["referring_provider"]
            v["source_type"] = SourceType.DOCTOR if has_referrer else SourceType.OTHER
        if not procedure_level and not v["case_type"]:
            v["case_type"] = "other"
        _office_for_lone_doctor(v)
        if procedure_level:
            v.update(extra)
        yield line, v, width


def _office_for_lone_doctor(v: dict[str, str]) -> None:
    # A doctor without a business name becomes an office named after the doctor: referrals
    # hang on offices, and a solo dentist is an office of one.
    if v["referring_office"] or not v["referring_provider"]:
        return
    if SOURCE_WORDS.get(spelling_key(v["source_type"])) not in OFFICE_SOURCES:
        return
    split = split_doctor_name(v["referring_provider"])
    if split is not None:
        v["referring_office"] = f"Dr. {split[0]} {split[1]}"


def apply(stream: BinaryIO, info: SourceInfo, mapping: Mapping) -> Iterator[RawRow]:
    """The file's rows as canonical RawRows (file line numbers). Procedure-level files are
    grouped into one row per case (procedures.group)."""
    if not mapping.procedure_level:
        for line, values, width in _rows(stream, info, mapping):
            yield RawRow(line, values, width, expected_width=len(info.header))
        return
    bad: list[RawRow] = []

    def procedure_rows():
        for line, values, width in _rows(stream, info, mapping):
            if values is None:
                bad.append(RawRow(line, None, width, expected_width=len(info.header)))
                continue
            yield procedures.ProcedureRow(line, values)

    ranges = [tuple(r) for r in mapping.code_ranges] or None
    grouped = (
        procedures.group(procedure_rows(), ranges) if ranges else procedures.group(procedure_rows())
    )
    for raw in grouped:
        while bad:
            yield bad.pop(0)
        yield raw
    yield from bad

"""What the export holds: one CSV per entity, its columns derived from the model.

Each entity's columns are the model's own fields (the practice left out), so a field added
to a model appears in the export, its README and the re-import without a second list:

* ``id``: the row's id in this export; other files point to it (``referral_id``);
* a link to another exported entity: ``<field>_id``, that row's ``id``;
* a link to a person (who recorded, who resolved): ``<field>_email``, their login;
* a stored file: ``<field>``, the file's path inside the zip (``letters/12.pdf``);
* JSON: the JSON text; dates and times ISO 8601 (times in UTC); booleans ``true`` /
  ``false``; an empty cell is "none".

Entities are listed parents first: the re-import creates them in this order.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models

from alerts.models import Alert
from analytics.models import OutreachLog
from communications.models import Letter, LetterTemplate
from practices.models import AuditEntry, Practice, User
from referrals.models import (
    Attachment,
    DistinctPatientPair,
    MilestoneEvent,
    OfficeEvent,
    OnlineReferral,
    Patient,
    Referral,
    ReferringOffice,
    ReferringProvider,
)

FORMAT_VERSION = 1


@dataclass(frozen=True)
class Entity:
    name: str  # the CSV's name, without .csv
    model: type[models.Model]
    what: str  # one line for the README
    # Stored files go in this folder of the zip.
    files_folder: str = ""
    # Fields left out: secrets and values that must be unique across the platform.
    skip: tuple[str, ...] = ()

    @property
    def filename(self) -> str:
        return f"{self.name}.csv"


ENTITIES: tuple[Entity, ...] = (
    Entity("offices", ReferringOffice, "Referring offices (GP practices)."),
    Entity("doctors", ReferringProvider, "Referring doctors, each at one office."),
    Entity("patients", Patient, "Patients."),
    Entity(
        "distinct_patients",
        DistinctPatientPair,
        "Pairs of patients staff marked as different people (not duplicates).",
    ),
    Entity("referrals", Referral, "Referrals (cases): one patient sent for one problem."),
    Entity(
        "milestones",
        MilestoneEvent,
        "Every step of every case's journey, voided ones included.",
    ),
    Entity("office_history", OfficeEvent, "History of the offices: first referral, merges."),
    Entity("online_referrals", OnlineReferral, "Referrals sent through the online form."),
    Entity(
        "attachments",
        Attachment,
        "Radiographs and documents sent with referrals; the files are in attachments/.",
        files_folder="attachments",
    ),
    Entity(
        "letters",
        Letter,
        "Letters to referring doctors, one per milestone and recipient; PDFs in letters/.",
        files_folder="letters",
        # A platform-wide unique id for the mail logs: a re-import gets new ones.
        skip=("correlation_id",),
    ),
    Entity("letter_templates", LetterTemplate, "The practice's own wording of its letters."),
    Entity("alerts", Alert, "Alerts about referring offices and letters."),
    Entity("outreach", OutreachLog, "Contacts with referring offices."),
    Entity(
        "audit_log",
        AuditEntry,
        "Who looked at or changed patient data, and account events (append-only).",
    ),
)

BY_MODEL = {entity.model: entity for entity in ENTITIES}


class ColumnKind:
    PLAIN = "plain"
    LINK = "link"  # to another exported entity, by its id
    PERSON = "person"  # to a User, by email
    FILE = "file"
    JSON = "json"


@dataclass(frozen=True)
class Column:
    name: str
    field: models.Field
    kind: str

    @property
    def target(self) -> Entity | None:
        return BY_MODEL.get(self.field.related_model) if self.kind == ColumnKind.LINK else None


def columns(entity: Entity) -> list[Column]:
    cols = []
    for f in entity.model._meta.concrete_fields:
        if f.name in entity.skip:
            continue
        if f.is_relation:
            if f.related_model is Practice:
                continue
            if f.related_model is User:
                cols.append(Column(f"{f.name}_email", f, ColumnKind.PERSON))
            elif f.related_model in BY_MODEL:
                cols.append(Column(f.attname, f, ColumnKind.LINK))
            else:
                raise LookupError(
                    f"{entity.model.__name__}.{f.name} links to {f.related_model.__name__}, "
                    "which the export does not hold: add it to ENTITIES or to skip"
                )
        elif isinstance(f, models.FileField):
            cols.append(Column(f.name, f, ColumnKind.FILE))
        elif isinstance(f, models.JSONField):
            cols.append(Column(f.name, f, ColumnKind.JSON))
        else:
            cols.append(Column(f.attname, f, ColumnKind.PLAIN))
    return cols


def _describe(entity: Entity, column: Column) -> str:
    f = column.field
    if column.name == "id":
        return "this row's id in the export (other files refer to it)"
    if column.kind == ColumnKind.LINK:
        return f"id of the row in {column.target.filename} ({f.verbose_name})"
    if column.kind == ColumnKind.PERSON:
        return f"email of the person ({f.verbose_name})"
    if column.kind == ColumnKind.FILE:
        return f"path of the file inside this zip ({f.verbose_name})"
    text = str(f.verbose_name)
    if f.help_text:
        text += f": {f.help_text}"
    if f.choices:
        text += " — one of " + ", ".join(str(value) for value, _label in f.flatchoices)
    if column.kind == ColumnKind.JSON:
        text += " (JSON)"
    elif isinstance(f, models.DateTimeField):
        text += " (date and time, ISO 8601, UTC)"
    elif isinstance(f, models.DateField):
        text += " (date, YYYY-MM-DD)"
    elif isinstance(f, models.BooleanField):
        text += " (true / false)"
    return text


def readme(practice_name: str, exported_at: str, counts: dict[str, int]) -> str:
    lines = [
        f"# Export of {practice_name}",
        "",
        f"Exported {exported_at} (UTC). Format version {FORMAT_VERSION}.",
        "",
        "One CSV file per kind of record (UTF-8, comma separated, a header row). Rows refer",
        "to each other by the `id` column of the other file (`referral_id` is the `id` of a",
        "row in referrals.csv). A cell that would start with = + - @ or a tab is written",
        "with a leading ' so that a spreadsheet shows it as text instead of running it; the",
        "re-import removes that quote again. Empty cell: no value.",
        "",
        "Letter PDFs are in letters/, attachments in attachments/ (the CSV rows name them).",
        "manifest.json holds the counts; `manage.py import_practice` reads this zip back",
        "into an empty practice.",
        "",
    ]
    for entity in ENTITIES:
        lines += [
            f"## {entity.filename} ({counts.get(entity.name, 0)} rows)",
            "",
            entity.what,
            "",
            "| column | meaning |",
            "| --- | --- |",
        ]
        lines += [f"| {c.name} | {_describe(entity, c)} |" for c in columns(entity)]
        lines.append("")
    return "\n".join(lines)

"""Read a practice's export (portability/export.py) back into an empty practice:
``manage.py import_practice --practice SLUG IN.zip``.

Everything in one transaction: a file that does not fit (a row pointing to a row the export
does not hold, a value the model refuses) changes nothing, and the stored files written
before the error are removed again. Rows get new ids; every link between them (``*_id``
columns, the audit log's patient and object ids) follows. People are linked by email when
they are members of the target practice, and left empty otherwise (accounts are not part of
a practice's data). Rows are written with ``bulk_create``: no signal fires, so re-importing
milestones queues no letter to a GP.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from typing import IO

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import models, transaction

from practices.csv_export import FORMULA_STARTS
from practices.models import AuditEntry, Membership, Practice

from .entities import BY_MODEL, ENTITIES, FORMAT_VERSION, ColumnKind, Entity, columns

BATCH = 1000


class ImportRefused(Exception):
    """The export cannot go into this practice; the message says why (file, line, column)."""


@dataclass
class _Context:
    practice: Practice
    zf: zipfile.ZipFile
    ids: dict[type, dict[str, int]]  # model -> old id (text) -> new id
    people: dict[str, int]  # email -> user id of the target practice's members
    stored: list[str]
    missing: frozenset[str]  # files the export could not find (manifest.json)


def is_empty(practice: Practice) -> bool:
    """No row of any exported entity but the audit log (a new practice's admin logging in
    already writes entries there)."""
    return not any(
        e.model._base_manager.filter(practice=practice).exists()
        for e in ENTITIES
        if e.model is not AuditEntry
    )


def import_practice(practice: Practice, source: IO[bytes] | str) -> dict[str, int]:
    """Import the export ``source`` (a zip) into ``practice``; returns rows per entity and
    ``files``. Call inside ``practice_scope(practice)``."""
    try:
        zf = zipfile.ZipFile(source)
    except zipfile.BadZipFile:
        raise ImportRefused("The file is not a zip file (a practice export).") from None
    with zf:
        manifest = _manifest(zf)
        if not is_empty(practice):
            raise ImportRefused(
                f"Practice {practice.slug} already has data: an export is imported only into "
                "an empty practice (create one with manage.py create_practice)."
            )
        people = {
            email.lower(): user_id
            for email, user_id in Membership.objects.filter(practice=practice).values_list(
                "user__email", "user_id"
            )
        }
        missing = frozenset(manifest.get("missing_files", []))
        context = _Context(practice, zf, defaultdict(dict), people, [], missing)
        counts: dict[str, int] = {}
        try:
            with transaction.atomic():
                for entity in ENTITIES:
                    counts[entity.name] = _import_entity(context, entity)
        except BaseException:
            # The rows rolled back; files are not transactional.
            for name in context.stored:
                _storage().delete(name)
            raise
        counts["files"] = len(context.stored)
    expected = manifest.get("counts", {})
    wrong = {k: (expected.get(k), v) for k, v in counts.items() if expected.get(k) not in (None, v)}
    if wrong:  # the CSVs were edited after the export: say so, the data is in all the same
        counts["differs_from_manifest"] = wrong  # type: ignore[assignment]
    _refresh_analytics(practice)
    return counts


def _storage():
    from django.core.files.storage import default_storage

    return default_storage


def _manifest(zf: zipfile.ZipFile) -> dict:
    try:
        manifest = json.loads(zf.read("manifest.json"))
    except KeyError:
        raise ImportRefused("manifest.json is missing: this is not a practice export.") from None
    except ValueError:
        raise ImportRefused("manifest.json is not valid JSON.") from None
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ImportRefused(
            f"Export format {manifest.get('format_version')!r} is not supported "
            f"(this version reads format {FORMAT_VERSION})."
        )
    return manifest


def _text(cell: str) -> str:
    # Undo the export's formula neutralisation (practices/csv_export.safe_cell).
    if cell.startswith("'") and cell[1:2] and cell[1] in FORMULA_STARTS:
        return cell[1:]
    return cell


def _import_entity(context: _Context, entity: Entity) -> int:
    cols = columns(entity)
    try:
        raw = context.zf.open(entity.filename)
    except KeyError:
        raise ImportRefused(f"{entity.filename} is missing from the export.") from None
    with raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text:
        reader = csv.reader(text)
        header = next(reader, None)
        expected = [c.name for c in cols]
        if header != expected:
            missing = [c for c in expected if c not in (header or [])]
            extra = [c for c in (header or []) if c not in expected]
            raise ImportRefused(
                f"{entity.filename}: the columns are not those of this version "
                f"(missing: {', '.join(missing) or 'none'}; unknown: {', '.join(extra) or 'none'})."
            )
        batch: list[tuple[str, models.Model]] = []
        total = 0
        for line, row in enumerate(reader, start=2):
            if len(row) != len(cols):
                raise ImportRefused(
                    f"{entity.filename} line {line}: {len(row)} cells, expected {len(cols)}."
                )
            old_id, obj = _build(context, entity, cols, [_text(c) for c in row], line)
            batch.append((old_id, obj))
            if len(batch) >= BATCH:
                total += _save(context, entity, batch)
                batch = []
        total += _save(context, entity, batch)
    return total


def _build(context: _Context, entity: Entity, cols, row: list[str], line: int):
    obj = entity.model(practice=context.practice)
    old_id = ""
    files: list[tuple[models.FileField, str]] = []
    for column, cell in zip(cols, row, strict=True):
        f = column.field
        where = f"{entity.filename} line {line}, column {column.name}"
        if f.primary_key:
            old_id = cell
            continue
        if column.kind == ColumnKind.LINK:
            value = None
            if cell:
                value = context.ids[f.related_model].get(cell)
                if value is None:
                    raise ImportRefused(
                        f"{where}: no row {cell} in {BY_MODEL[f.related_model].filename}."
                    )
            setattr(obj, f.attname, value)
        elif column.kind == ColumnKind.PERSON:
            setattr(obj, f.attname, context.people.get(cell.lower()) if cell else None)
        elif column.kind == ColumnKind.FILE:
            if cell and cell not in context.missing:
                files.append((f, cell))
        elif column.kind == ColumnKind.JSON:
            try:
                setattr(obj, f.attname, json.loads(cell) if cell else f.get_default())
            except ValueError:
                raise ImportRefused(f"{where}: not valid JSON.") from None
        else:
            setattr(obj, f.attname, _value(f, cell, where))
    if entity.model is AuditEntry:
        _relink_audit_entry(context, obj)
    for f, member in files:
        try:
            data = context.zf.read(member)
        except KeyError:
            raise ImportRefused(
                f"{entity.filename} line {line}: {member} is not in the zip."
            ) from None
        getattr(obj, f.name).save(member.rsplit("/", 1)[-1], ContentFile(data), save=False)
        context.stored.append(getattr(obj, f.name).name)
    return old_id, obj


def _value(f: models.Field, cell: str, where: str):
    if cell == "" and f.null:
        return None
    if isinstance(f, models.BooleanField):
        if cell not in ("true", "false"):
            raise ImportRefused(f"{where}: {cell!r} is not true or false.")
        return cell == "true"
    if isinstance(f, models.CharField | models.TextField):
        return cell
    try:
        return f.to_python(cell)
    except ValidationError:
        raise ImportRefused(f"{where}: {cell!r} is not a valid {f.verbose_name}.") from None


_AUDIT_OBJECTS = {e.model._meta.model_name: e.model for e in ENTITIES}


def _relink_audit_entry(context: _Context, entry: AuditEntry) -> None:
    """The audit log names rows by id without a foreign key: point it at the new rows."""
    from referrals.models import Patient

    if entry.patient_id is not None:
        entry.patient_id = context.ids[Patient].get(str(entry.patient_id), entry.patient_id)
    model = _AUDIT_OBJECTS.get(entry.object_type)
    if model is not None and entry.object_id:
        entry.object_id = str(context.ids[model].get(entry.object_id, entry.object_id))


def _save(context: _Context, entity: Entity, batch: list[tuple[str, models.Model]]) -> int:
    if not batch:
        return 0
    try:
        created = entity.model._base_manager.bulk_create([obj for _, obj in batch])
    except Exception as exc:  # an integrity or data error: name the file, never the values
        raise ImportRefused(
            f"{entity.filename}: the database refused the rows ({type(exc).__name__})."
        ) from exc
    ids = context.ids[entity.model]
    for (old_id, _), obj in zip(batch, created, strict=True):
        ids[old_id] = obj.pk
    return len(created)


def _refresh_analytics(practice: Practice) -> None:
    """The monthly rollups are derived data (not in the export): rebuild them so the
    referrer board shows the imported history at once; the nightly job does the rest."""
    from analytics.rollups import rebuild_rollups

    rebuild_rollups(practice)

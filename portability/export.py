"""Write everything of a practice into one zip: a CSV per entity (portability/entities.py),
README.md describing every column, manifest.json with the counts, and the stored files
(letter PDFs, attachments).

Runs inside the practice's scope. On PostgreSQL the reads share one REPEATABLE READ,
read-only snapshot, so the files agree with each other (a milestone added while the export
runs is either in milestones.csv with its referral, or in neither). Rows stream from the
database in chunks and CSV lines stream into the zip: memory stays flat.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import IO

from django.db import connection, models, transaction
from django.utils import timezone

from practices.csv_export import csv_lines
from practices.models import Practice, User

from .entities import ENTITIES, FORMAT_VERSION, ColumnKind, Entity, columns, readme

CHUNK = 2000
Progress = Callable[[int, int], None]  # (done, total) in rows + files


def zip_file_name(entity: Entity, stored_name: str, row_id: int) -> str:
    extension = stored_name.rsplit(".", 1)[-1] if "." in stored_name.rsplit("/", 1)[-1] else ""
    return f"{entity.files_folder}/{row_id}{'.' + extension if extension else ''}"


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


@contextmanager
def _snapshot() -> Iterator[None]:
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql" and outermost:
            # Must be the transaction's first statement: the caller bound the connection to
            # the practice before (that binding is a statement of its own, session-level).
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def count_rows(practice: Practice) -> dict[str, int]:
    return {e.name: e.model._base_manager.filter(practice=practice).count() for e in ENTITIES}


def build_export(practice: Practice, out: IO[bytes], progress: Progress | None = None) -> dict:
    """Write the practice's export as a zip into ``out``; returns the counts (rows per
    entity and ``files``). Call inside ``practice_scope(practice)``."""
    # Any statement in the scope binds the connection to the practice, before the
    # snapshot's transaction begins (see _snapshot).
    Practice.objects.filter(pk=practice.pk).exists()
    exported_at = timezone.now().astimezone(dt.UTC).replace(microsecond=0)
    with _snapshot(), zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        counts = count_rows(practice)
        files = _file_rows(practice)
        total = sum(counts.values()) + len(files)
        done = 0
        emails: dict[int, str] = {}
        for entity in ENTITIES:
            with zf.open(entity.filename, "w", force_zip64=True) as member:
                for line in csv_lines(
                    [c.name for c in columns(entity)], _rows(practice, entity, emails)
                ):
                    member.write(line.encode("utf-8"))
                    done += 1
                    if progress and done % CHUNK == 0:
                        progress(done, total)
            done -= 1  # the header line
        missing = []
        for entity, field, stored_name, row_id in files:
            member = zip_file_name(entity, stored_name, row_id)
            try:
                src = field.storage.open(stored_name, "rb")
            except FileNotFoundError:
                # A file lost from the storage must not cost the practice its export: the
                # manifest names it, and the re-import leaves that row without its file.
                missing.append(member)
            else:
                with src, zf.open(member, "w", force_zip64=True) as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
            done += 1
            if progress and done % 50 == 0:
                progress(done, total)
        counts["files"] = len(files) - len(missing)
        zf.writestr("README.md", readme(practice.name, exported_at.isoformat(), counts))
        zf.writestr(
            "manifest.json",
            json.dumps(
                {
                    "format_version": FORMAT_VERSION,
                    "practice": {"name": practice.name, "slug": practice.slug},
                    "exported_at": exported_at.isoformat(),
                    "counts": counts,
                    "missing_files": missing,
                },
                indent=2,
            ),
        )
    if progress:
        progress(total, total)
    return counts


def _rows(practice: Practice, entity: Entity, emails: dict[int, str]) -> Iterator[list]:
    cols = columns(entity)
    attnames = [c.field.attname for c in cols]
    queryset = (
        entity.model._base_manager.filter(practice=practice).order_by("pk").values_list(*attnames)
    )
    _load_emails(entity, practice, cols, emails)
    for values in queryset.iterator(chunk_size=CHUNK):
        row = []
        for column, value in zip(cols, values, strict=True):
            if column.kind == ColumnKind.PERSON:
                row.append(emails.get(value, "") if value is not None else "")
            elif column.kind == ColumnKind.FILE:
                row.append(zip_file_name(entity, value, values[0]) if value else "")
            elif column.kind == ColumnKind.JSON:
                row.append(json.dumps(value, ensure_ascii=False))
            else:
                row.append(_cell(value))
        yield row


def _load_emails(entity: Entity, practice: Practice, cols, emails: dict[int, str]) -> None:
    """The logins of the people the entity's rows name (users are not tenant rows)."""
    ids: set[int] = set()
    for column in cols:
        if column.kind == ColumnKind.PERSON:
            ids.update(
                entity.model._base_manager.filter(practice=practice)
                .exclude(**{f"{column.field.attname}__isnull": True})
                .values_list(column.field.attname, flat=True)
                .distinct()
            )
    missing = ids - emails.keys()
    if missing:
        emails.update(User.objects.filter(pk__in=missing).values_list("pk", "email"))


def _file_rows(practice: Practice) -> list[tuple[Entity, models.FileField, str, int]]:
    rows = []
    for entity in ENTITIES:
        for column in columns(entity):
            if column.kind == ColumnKind.FILE:
                rows += [
                    (entity, column.field, name, pk)
                    for pk, name in entity.model._base_manager.filter(practice=practice)
                    .exclude(**{column.field.attname: ""})
                    .order_by("pk")
                    .values_list("pk", column.field.attname)
                ]
    return rows

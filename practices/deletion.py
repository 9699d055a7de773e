"""Delete a practice and everything it owns: every row of every tenant table, its stored
files, and the accounts that existed only to work in it (``manage.py delete_practice``).

What is a tenant table is found by introspection, like the row-level-security policies
(``config.db.rls.tenant_tables``): every model with a foreign key to ``Practice``. A tenant
model added later is deleted too, without anyone having to remember this module.

The audit log goes with the practice. It is append-only for the practice's own staff (a
trigger refuses UPDATE and DELETE, so no page, task or bug can rewrite what was seen), but
it is the practice's record of who looked at its patients: it names its patients' ids, its
staff and their addresses, and a practice that asks to have its data deleted asks for that
too. The platform operator's deletion is the one sanctioned way past the trigger, through
``pgtrigger.ignore`` for this one trigger, in this one transaction. What stays is one entry
of no practice saying that the practice (its id and slug, never a patient) was deleted,
when, and how many rows went: the platform's own record that the deletion happened.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter

import pgtrigger
from django.apps import apps
from django.core.files.storage import Storage, default_storage
from django.db import connection, models, transaction
from django_scopes import scopes_disabled

from .models import ActorKind, AuditAction, AuditEntry, Membership, Practice, User
from .scoping import practice_scope

logger = logging.getLogger(__name__)

AUDIT_TRIGGER = "practices.AuditEntry:audit_append_only"


@dataclass
class DeletionReport:
    practice_id: int
    slug: str
    rows: dict[str, int] = field(default_factory=dict)  # model label -> rows deleted
    files: int = 0
    accounts: int = 0
    # Files the storage could not delete (the rows are gone all the same): the operator
    # removes them by hand, the command names them.
    files_left: list[str] = field(default_factory=list)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def tenant_models() -> list[tuple[type[models.Model], str]]:
    """(model, practice column) of every tenant model, each before the models it points to,
    so the deletes never trip a foreign key even where constraints are not deferred."""
    tenant: dict[type[models.Model], str] = {}
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        for f in model._meta.concrete_fields:
            if f.is_relation and f.related_model is Practice:
                tenant.setdefault(model, f.column)
    must_go_first: dict[type[models.Model], set] = {model: set() for model in tenant}
    for model in tenant:
        for f in model._meta.concrete_fields:
            if f.is_relation and f.related_model in tenant and f.related_model is not model:
                must_go_first[f.related_model].add(model)
    try:
        order = list(TopologicalSorter(must_go_first).static_order())
    except CycleError:
        # Django's foreign keys are checked at commit (deferred): any order is right then.
        order = list(tenant)
    return [(model, tenant[model]) for model in order]


def practice_file_names(practice: Practice) -> list[str]:
    """The stored name of every file a row of the practice points to (attachments, letter
    PDFs, imports, outbox attachments, the logo...): every FileField of every tenant model."""
    names: list[str] = []
    with practice_scope(practice):
        for model, column in tenant_models():
            for f in model._meta.concrete_fields:
                if isinstance(f, models.FileField):
                    names.extend(
                        model._base_manager.filter(**{column: practice.pk})
                        .exclude(**{f.attname: ""})
                        .values_list(f.attname, flat=True)
                    )
    return sorted(set(names))


def practice_folder(practice_id: int) -> str:
    """Where the upload paths put a practice's private files (``private/<id>/...``)."""
    return f"private/{practice_id}"


def count_rows(practice: Practice) -> dict[str, int]:
    """Rows of the practice per tenant model (only the non-empty ones)."""
    counts = {}
    with practice_scope(practice):
        for model, column in tenant_models():
            n = model._base_manager.filter(**{column: practice.pk}).count()
            if n:
                counts[model._meta.label] = n
    return counts


def accounts_only_in(practice: Practice) -> list[int]:
    """Ids of the accounts whose every membership is in this practice: they exist only to
    work here. Platform operators (staff) are kept whatever their memberships."""
    # An account spans practices: finding its other memberships crosses tenants.
    with scopes_disabled():
        members = Membership.objects.filter(practice=practice).values_list("user_id", flat=True)
        elsewhere = Membership.objects.exclude(practice=practice).values_list("user_id", flat=True)
        return list(
            User.objects.filter(pk__in=members, is_staff=False, is_superuser=False)
            .exclude(pk__in=elsewhere)
            .values_list("pk", flat=True)
        )


@contextmanager
def _past_the_audit_trigger() -> Iterator[None]:
    # SQLite has no trigger (and no pgtrigger session setting) to get past.
    if connection.vendor == "postgresql":
        with pgtrigger.ignore(AUDIT_TRIGGER):
            yield
    else:
        yield


def delete_practice(practice: Practice, *, storage: Storage | None = None) -> DeletionReport:
    """Delete ``practice``: its rows in every tenant table (audit log included), the
    accounts that belonged to it alone, the practice itself, then its files.

    The rows go in one transaction: either all of them or none. Files are not
    transactional, so they are removed after the commit; one that cannot be removed is
    listed in the report (its rows are gone, nothing points to it any more).
    """
    storage = storage or default_storage
    report = DeletionReport(practice_id=practice.pk, slug=practice.slug)
    files = practice_file_names(practice)
    qn = connection.ops.quote_name
    with transaction.atomic():
        # Lock the tenant row: a second deletion of the same practice waits, then finds
        # nothing to do.
        Practice.objects.select_for_update().get(pk=practice.pk)
        accounts = accounts_only_in(practice)
        # In the practice's scope: row-level security lets these DELETEs reach this
        # practice's rows only, whatever the WHERE says.
        with practice_scope(practice), _past_the_audit_trigger(), connection.cursor() as cursor:
            for model, column in tenant_models():
                cursor.execute(
                    f"DELETE FROM {qn(model._meta.db_table)} WHERE {qn(column)} = %s",
                    [practice.pk],
                )
                if cursor.rowcount:
                    report.rows[model._meta.label] = cursor.rowcount
        # The tenant registry and the accounts are not tenant tables; deleting them crosses
        # tenants (the collector looks for their rows everywhere; the practice has none left,
        # and an account of this practice alone is in no other practice's rows but audit
        # entries, which keep the id without a constraint).
        with scopes_disabled():
            User.objects.filter(pk__in=accounts).delete()
            report.accounts = len(accounts)
            Practice.objects.filter(pk=practice.pk).delete()
            AuditEntry.objects.create(
                practice=None,
                actor_kind=ActorKind.SYSTEM,
                actor_label="platform operator",
                action=AuditAction.DELETED,
                object_type="practice",
                object_id=str(practice.pk),
                summary=(
                    f"Practice {practice.slug} deleted with all its data: "
                    f"{report.total_rows} rows, {len(files)} files, {len(accounts)} accounts"
                )[:300],
            )
    report.files, report.files_left = _delete_files(storage, files, practice.pk)
    logger.info(
        "practice deleted id=%s rows=%s files=%s accounts=%s files_left=%s",
        practice.pk,
        report.total_rows,
        report.files,
        report.accounts,
        len(report.files_left),
    )
    return report


def _delete_files(storage: Storage, names: list[str], practice_id: int) -> tuple[int, list[str]]:
    """Delete the files the rows named, then anything else left in the practice's folder
    (an upload whose row was never written, a PDF of a rolled-back letter)."""
    deleted, left = 0, []
    for name in [*names, *_walk(storage, practice_folder(practice_id))]:
        try:
            if storage.exists(name):
                storage.delete(name)
                deleted += 1
        except OSError:
            left.append(name)
    _remove_empty_folders(storage, practice_folder(practice_id))
    return deleted, left


def _walk(storage: Storage, folder: str) -> list[str]:
    """Every file under ``folder``, through the storage API (S3-compatible storages too)."""
    try:
        folders, files = storage.listdir(folder)
    except (FileNotFoundError, NotImplementedError):
        return []
    names = [f"{folder}/{name}" for name in files]
    for sub in folders:
        names.extend(_walk(storage, f"{folder}/{sub}"))
    return names


def _remove_empty_folders(storage: Storage, folder: str) -> None:
    # Object stores have no folders; on the filesystem, leave no empty private/<id>/ tree
    # behind (the id alone says a practice was here).
    path = getattr(storage, "location", None)
    if path is None:
        return
    root = os.path.join(path, folder)
    for current, _dirs, _files in sorted(os.walk(root), key=lambda t: -len(t[0])):
        # Not empty: a file could not be deleted (listed in the report).
        with suppress(OSError):
            os.rmdir(current)

"""A practice with rows in every tenant table and real stored files, and how to count them:
shared by the delete, backup/restore and export tests."""

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, models
from django_scopes import scopes_disabled

from practices.deletion import tenant_models
from practices.scoping import practice_scope
from tests.online_referral_helpers import stored_files


def store_files(practice) -> None:
    """A real stored file behind every file field of every row of the practice (attachment,
    letter PDF, import, outbox attachment, logo), plus one that no row names."""
    with practice_scope(practice):
        for model, _column in tenant_models():
            file_fields = [
                f for f in model._meta.concrete_fields if isinstance(f, models.FileField)
            ]
            for obj in model._base_manager.filter(practice=practice) if file_fields else []:
                for f in file_fields:
                    getattr(obj, f.name).save(
                        f"{model._meta.model_name}.bin",
                        ContentFile(f"{practice.slug} {model._meta.label}".encode()),
                        save=True,
                    )
    default_storage.save(f"private/{practice.pk}/attachments/orphan", ContentFile(b"left over"))


def rows_of(practice_id: int) -> dict[str, int]:
    """Rows per tenant table of a practice, counted cross-tenant with raw SQL."""
    counts = {}
    with scopes_disabled(), connection.cursor() as cursor:
        for model, column in tenant_models():
            cursor.execute(
                f'SELECT count(*) FROM "{model._meta.db_table}" WHERE "{column}" = %s',
                [practice_id],
            )
            counts[model._meta.db_table] = cursor.fetchone()[0]
    return counts


def files_under(root) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in stored_files(root)}

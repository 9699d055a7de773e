"""API keys of a practice: create (the key is shown once), revoke, and check a presented key.

Only a SHA-256 of the key is stored. The key carries 256 bits from ``secrets``, so a fast
hash is enough: there is nothing to brute-force that a slow password hash would protect,
and the API looks a key up on every request by its hash (an indexed, unique column).
"""

import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_scopes import scopes_disabled

from .models import ApiKey, Practice
from .scoping import practice_scope

logger = logging.getLogger(__name__)

# Recognisable in logs, configuration files and secret scanners.
KEY_MARKER = "oms_"
PREFIX_LENGTH = 12  # ApiKey.prefix: the marker and 8 random characters
# last_used_at is for people ("is this key still in use?"): minute precision is plenty,
# and it spares a write on every request of a busy integration.
LAST_USED_PRECISION = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class CreatedKey:
    api_key: ApiKey
    raw_key: str  # shown once to the person who created it, never stored


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def generate_raw_key() -> str:
    return KEY_MARKER + secrets.token_urlsafe(32)


@transaction.atomic
def create_api_key(practice: Practice, name: str, *, created_by=None) -> CreatedKey:
    """A new key for ``practice``; the returned raw key cannot be recovered later."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Name the key after what will use it."})
    max_length = ApiKey._meta.get_field("name").max_length
    if len(name) > max_length:
        raise ValidationError({"name": f"Keep the name under {max_length} characters."})
    raw_key = generate_raw_key()
    api_key = ApiKey.objects.create(
        practice=practice,
        name=name,
        prefix=raw_key[:PREFIX_LENGTH],
        hashed_key=hash_key(raw_key),
        created_by=created_by,
    )
    # An audit line with ids only; the key itself is never logged.
    logger.info(
        "API key %s (%s) created for practice %s by user %s",
        api_key.pk,
        api_key.prefix,
        practice.pk,
        getattr(created_by, "pk", None),
    )
    return CreatedKey(api_key=api_key, raw_key=raw_key)


@transaction.atomic
def revoke_api_key(api_key: ApiKey, *, by=None) -> ApiKey:
    """Revoke a key; it stops working on the next request (keys are never cached)."""
    # Conditional update: revoking twice keeps the first revocation time.
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    api_key.refresh_from_db(fields=["revoked_at"])
    return api_key


def active_key_for(raw_key: str) -> ApiKey | None:
    """The active key matching ``raw_key`` (with its practice), or None."""
    if not raw_key or not raw_key.startswith(KEY_MARKER):
        return None
    # The practice is not known yet: the key is what tells us which practice this is.
    with scopes_disabled():
        return (
            ApiKey.objects.select_related("practice")
            .filter(hashed_key=hash_key(raw_key), revoked_at__isnull=True)
            .first()
        )


def note_key_used(api_key: ApiKey, now: dt.datetime | None = None) -> None:
    """Record that the key was used, at most one write per key per minute."""
    now = now or timezone.now()
    stale_before = now - LAST_USED_PRECISION
    if api_key.last_used_at is not None and api_key.last_used_at > stale_before:
        return
    # Conditional so that concurrent requests do not all write. In the key's own practice:
    # this may run before the request has entered its scope.
    with practice_scope(api_key.practice_id):
        ApiKey.objects.filter(pk=api_key.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale_before)
        ).update(last_used_at=now)
    api_key.last_used_at = now

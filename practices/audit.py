"""Record who looked at or changed patient data, and account events (the audit log).

One call, one INSERT, in the caller's practice scope::

    record(request, AuditAction.VIEWED, obj=referral)              # a case page
    record(request, AuditAction.LISTED, object_type="patient", count=len(rows))
    record(request, AuditAction.DOWNLOADED, obj=letter, patient=letter.referral.patient_id)
    record_account_event(request, AuditAction.LOGIN_FAILED, email=typed_email)

A page that shows many patients records one ``listed`` entry, not one per row. The entry
holds ids and labels only: never a patient's name, date of birth or a note (``summary`` is
for words like "Report: referral volume, CSV", not for PHI).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings
from django.db import models
from django_scopes import scopes_disabled

from .models import ActorKind, AuditAction, AuditEntry, Membership, Practice, User

__all__ = [
    "AuditAction",
    "ActorKind",
    "record",
    "record_many",
    "record_account_event",
    "client_address",
]

_USER_AGENT_LENGTH = AuditEntry._meta.get_field("user_agent").max_length
_PATH_LENGTH = AuditEntry._meta.get_field("path").max_length
_SUMMARY_LENGTH = AuditEntry._meta.get_field("summary").max_length


def client_address(request) -> str | None:
    """The client's address: REMOTE_ADDR, or the proxy's header named in the settings."""
    if request is None:
        return None
    meta = getattr(request, "META", {})
    key = getattr(settings, "RATELIMIT_IP_META_KEY", None) or "REMOTE_ADDR"
    value = (meta.get(key) or meta.get("REMOTE_ADDR") or "").split(",")[0].strip()
    # The column is PostgreSQL's inet: a header a client can write ("unknown", "x") would
    # make the INSERT, and with it the page, fail. Keep only what is an address.
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _actor(request) -> tuple[str, User | None, str]:
    """(kind, user, label) of whoever made ``request``."""
    if request is None:
        return ActorKind.SYSTEM, None, "system"
    # A view that authenticates some other way (the GP status page's token) says so.
    explicit = getattr(request, "audit_actor", None)
    if explicit is not None:
        kind, label = explicit
        return kind, None, label
    auth = getattr(request, "auth", None)
    api_key = getattr(auth, "prefix", None) if auth is not None else None
    if api_key:
        return ActorKind.API_KEY, None, f"API key {auth.name} ({api_key}…)"
    user = getattr(request, "user", None)
    if user is not None and getattr(user, "is_authenticated", False) and isinstance(user, User):
        return ActorKind.USER, user, user.email
    return ActorKind.ANONYMOUS, None, ""


def _patient_id_of(obj: Any) -> int | None:
    if obj is None:
        return None
    if obj._meta.model_name == "patient":
        return obj.pk
    patient_id = getattr(obj, "patient_id", None)
    if patient_id is not None:
        return patient_id
    referral = getattr(obj, "referral", None)
    return getattr(referral, "patient_id", None)


def _request_fields(request) -> dict[str, Any]:
    if request is None:
        return {}
    meta = getattr(request, "META", {})
    return {
        "ip_address": client_address(request),
        "user_agent": (meta.get("HTTP_USER_AGENT") or "")[:_USER_AGENT_LENGTH],
        "path": (getattr(request, "path", "") or "")[:_PATH_LENGTH],
    }


def record(
    request,
    action: AuditAction | str,
    *,
    obj: models.Model | None = None,
    patient: Any = None,
    object_type: str = "",
    object_id: Any = "",
    summary: str = "",
    count: int | None = None,
    practice: Practice | int | None = None,
) -> AuditEntry:
    """Write one audit entry for ``request``'s actor in the current practice.

    ``patient`` is a Patient or its id; by default it is taken from ``obj`` (a patient, or
    anything with ``patient_id`` or a ``referral``).
    """
    kind, user, label = _actor(request)
    if practice is None:
        practice = getattr(request, "practice", None)
    if practice is None and obj is not None:
        practice = getattr(obj, "practice_id", None)
    if patient is not None and not isinstance(patient, int):
        patient = patient.pk
    if patient is None:
        patient = _patient_id_of(obj)
    if obj is not None:
        object_type = object_type or obj._meta.model_name
        object_id = object_id or obj.pk
    practice_id = practice.pk if isinstance(practice, Practice) else practice
    return AuditEntry.objects.create(
        practice_id=practice_id,
        actor_kind=kind,
        actor_user=user,
        actor_label=label[:200],
        action=action,
        object_type=object_type,
        object_id=str(object_id or "")[:64],
        patient_id=patient,
        summary=summary[:_SUMMARY_LENGTH],
        count=count,
        **_request_fields(request),
    )


def record_many(
    request,
    action: AuditAction | str,
    objs: list[models.Model],
    *,
    summary: str = "",
) -> list[AuditEntry]:
    """One entry per object, all written with one INSERT: a batch action on several
    patients' records (letters printed together) stays findable per patient."""
    if not objs:
        return []
    kind, user, label = _actor(request)
    practice = getattr(request, "practice", None)
    practice_id = practice.pk if isinstance(practice, Practice) else objs[0].practice_id
    fields = _request_fields(request)
    return AuditEntry.objects.bulk_create(
        [
            AuditEntry(
                practice_id=practice_id,
                actor_kind=kind,
                actor_user=user,
                actor_label=label[:200],
                action=action,
                object_type=obj._meta.model_name,
                object_id=str(obj.pk),
                patient_id=_patient_id_of(obj),
                summary=summary[:_SUMMARY_LENGTH],
                **fields,
            )
            for obj in objs
        ]
    )


def record_account_event(
    request,
    action: AuditAction | str,
    *,
    user: User | None = None,
    email: str = "",
    summary: str = "",
) -> None:
    """Record an account event (login, failed login, lockout, two-factor change, ...).

    It is written once in every practice the person belongs to, so each practice's
    administrator sees the events of their own staff; an address that belongs to nobody
    is written once with no practice (visible to platform operators only).
    """
    if user is None and email:
        user = User.objects.filter(email__iexact=email.strip()).first()
    actor_user = user
    label = user.email if user is not None else email.strip().lower()
    fields = _request_fields(request)
    # A login comes before any practice is chosen: the events cross tenants on purpose.
    with scopes_disabled():
        practice_ids = (
            list(Membership.objects.filter(user=user).values_list("practice_id", flat=True))
            if user is not None
            else []
        )
        entries = [
            AuditEntry(
                practice_id=practice_id,
                actor_kind=ActorKind.USER if user is not None else ActorKind.ANONYMOUS,
                actor_user=actor_user,
                actor_label=label[:200],
                action=action,
                object_type="account",
                object_id=str(user.pk) if user is not None else "",
                summary=summary[:_SUMMARY_LENGTH],
                **fields,
            )
            for practice_id in (practice_ids or [None])
        ]
        AuditEntry.objects.bulk_create(entries)

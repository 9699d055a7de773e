"""The practice's team: change a member's role, deactivate and reactivate members.

Each change is one transaction that also writes its audit entry. The practice's admin
memberships are locked (``SELECT ... FOR UPDATE``) before the last-admin rule is checked,
so two admins demoting each other at the same moment cannot leave the practice with none.
Deactivating ends the member's open sessions at once (``practices.user_sessions``).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .audit import AuditAction, record
from .models import Membership, Role, User
from .scoping import practice_scope
from .user_sessions import end_sessions_of


class TeamChangeRefused(ValidationError):
    pass


def _lock_active_admins(membership: Membership) -> list[int]:
    return list(
        Membership.objects.select_for_update()
        .filter(practice_id=membership.practice_id, role=Role.ADMIN, is_active=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _guard_last_admin(membership: Membership, by: User, doing: str) -> None:
    admins = _lock_active_admins(membership)
    if admins == [membership.pk]:
        who = "You are" if membership.user_id == by.pk else f"{membership.user.email} is"
        raise TeamChangeRefused(
            f"{who} the practice's last active administrator: make someone else an "
            f"administrator before you {doing}.",
            code="last_admin",
        )


def change_role(
    membership: Membership,
    role: Role | str,
    *,
    is_surgeon: bool | None = None,
    by: User,
    request=None,
) -> bool:
    """Give ``membership`` a new role (and surgeon flag). False if nothing changed."""
    role = Role(role)
    with transaction.atomic(), practice_scope(membership.practice_id):
        membership = (
            Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
        )
        if membership.role == Role.ADMIN and role != Role.ADMIN and membership.is_active:
            _guard_last_admin(membership, by, "change this role")
        changes = []
        if membership.role != role:
            changes.append(f"role {Role(membership.role).label} → {role.label}")
            membership.role = role
        if is_surgeon is not None and membership.is_surgeon != is_surgeon:
            changes.append("now a surgeon" if is_surgeon else "no longer a surgeon")
            membership.is_surgeon = is_surgeon
        if not changes:
            return False
        membership.save(update_fields=["role", "is_surgeon"])
        record(
            request,
            AuditAction.ROLE_CHANGED,
            obj=membership,
            practice=membership.practice_id,
            summary=f"{membership.user.email}: {', '.join(changes)}",
        )
    return True


def deactivate(membership: Membership, *, by: User, request=None) -> int:
    """Deactivate a member and end their open sessions. Returns the number of sessions
    ended. The member's history (audit entries, letters they signed) stays."""
    with transaction.atomic(), practice_scope(membership.practice_id):
        membership = (
            Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
        )
        if not membership.is_active:
            return 0
        if membership.role == Role.ADMIN:
            _guard_last_admin(membership, by, "deactivate this account")
        membership.is_active = False
        membership.deactivated_at = timezone.now()
        membership.save(update_fields=["is_active", "deactivated_at"])
        ended = end_sessions_of(membership.user)
        record(
            request,
            AuditAction.DEACTIVATED,
            obj=membership,
            practice=membership.practice_id,
            summary=f"Deactivated {membership.user.email}; {ended} open session(s) ended",
        )
    return ended


def reactivate(membership: Membership, *, by: User, request=None) -> bool:
    with transaction.atomic(), practice_scope(membership.practice_id):
        updated = Membership.objects.filter(pk=membership.pk, is_active=False).update(
            is_active=True, deactivated_at=None
        )
        if updated:
            record(
                request,
                AuditAction.REACTIVATED,
                obj=membership,
                practice=membership.practice_id,
                summary=f"Reactivated {membership.user.email}",
            )
        membership.refresh_from_db()
    return bool(updated)

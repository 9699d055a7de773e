"""Invitations: how a person joins a practice (nobody signs up on their own).

An admin invites an address with a role; the person gets an email with a one-time link
``SITE_URL/invitations/<token>/``. Only the SHA-256 of the token is stored, so the table
cannot be turned into working links. The link expires after ``INVITATION_VALID_DAYS``
(7 by default) and works once: accepting marks the invitation used in the same
transaction that creates the user and the membership, under a row lock, so two clicks
cannot both succeed. Resending issues a new token (the old link stops working).

A person who already has an account (a member of another practice) keeps it: accepting
adds a membership here and never touches their password.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django_scopes import scopes_disabled

from .audit import AuditAction, record
from .models import Invitation, Membership, Practice, Role, User
from .scoping import practice_scope


class InvitationRefused(ValidationError):
    """The invitation cannot be made (already a member, a bad address)."""


class InvitationUnusable(Exception):
    """The link cannot be used; ``reason`` says why in words for the person holding it."""

    def __init__(self, reason: str, status: int):
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass
class Sent:
    invitation: Invitation
    token: str
    emailed: bool


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> tuple[str, str]:
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def _expiry():
    return timezone.now() + timedelta(days=settings.INVITATION_VALID_DAYS)


def invitation_url(token: str) -> str:
    return f"{settings.SITE_URL}/invitations/{token}/"


def _send(invitation: Invitation, token: str) -> bool:
    """Email the link. False when the mail server refused: the invitation stays, and the
    admin is told to resend it."""
    practice = invitation.practice
    inviter = invitation.invited_by
    context = {
        "practice": practice,
        "inviter": inviter,
        "role": invitation.get_role_display(),
        "url": invitation_url(token),
        "expires_at": invitation.expires_at,
        "days": settings.INVITATION_VALID_DAYS,
    }
    subject = f"You are invited to {practice.name}"
    body = render_to_string("practices/email/invitation.txt", context)
    try:
        send_mail(subject, body, None, [invitation.email])
    except OSError:  # smtplib's errors and refused connections are OSErrors
        return False
    return True


def _normalize(email: str) -> str:
    return User.objects.normalize_email(email.strip()).lower()


def invite(
    practice: Practice,
    email: str,
    role: Role | str,
    *,
    is_surgeon: bool = False,
    by: User,
    request=None,
) -> Sent:
    """Invite ``email`` to ``practice`` as ``role``; a pending invitation of the same
    address is replaced (its link stops working)."""
    email = _normalize(email)
    with scopes_disabled():
        membership = (
            Membership.objects.filter(practice=practice, user__email__iexact=email)
            .select_related("user")
            .first()
        )
    if membership is not None and membership.is_active:
        raise InvitationRefused(
            f"{email} is already a member of {practice.name}.", code="already_member"
        )
    if membership is not None:
        raise InvitationRefused(
            f"{email} was deactivated: reactivate them in the member list instead.",
            code="deactivated_member",
        )
    token, token_hash = _new_token()
    with transaction.atomic(), practice_scope(practice):
        now = timezone.now()
        Invitation.objects.filter(
            practice=practice,
            email__iexact=email,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
        ).update(revoked_at=now)
        invitation = Invitation.objects.create(
            practice=practice,
            email=email,
            role=role,
            is_surgeon=is_surgeon,
            token_hash=token_hash,
            invited_by=by,
            expires_at=_expiry(),
        )
        record(
            request,
            AuditAction.INVITED,
            obj=invitation,
            practice=practice,
            summary=f"Invited {email} as {invitation.get_role_display()}",
        )
    # After the commit: the link in the email must already work when it arrives.
    return Sent(invitation, token, _send(invitation, token))


def resend(invitation: Invitation, *, by: User, request=None) -> Sent:
    """A new link (and expiry) for a pending or expired invitation; the old link dies."""
    if invitation.accepted_at is not None or invitation.revoked_at is not None:
        raise InvitationRefused("This invitation was already used or withdrawn.")
    token, token_hash = _new_token()
    with transaction.atomic(), practice_scope(invitation.practice_id):
        invitation.token_hash = token_hash
        invitation.expires_at = _expiry()
        invitation.save(update_fields=["token_hash", "expires_at"])
        record(
            request,
            AuditAction.INVITED,
            obj=invitation,
            practice=invitation.practice_id,
            summary=f"Resent the invitation of {invitation.email}",
        )
    return Sent(invitation, token, _send(invitation, token))


def revoke(invitation: Invitation, *, by: User, request=None) -> bool:
    """Withdraw a pending invitation; False if it was already used or withdrawn."""
    with transaction.atomic(), practice_scope(invitation.practice_id):
        updated = Invitation.objects.filter(
            pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True
        ).update(revoked_at=timezone.now())
        if updated:
            record(
                request,
                AuditAction.INVITATION_REVOKED,
                obj=invitation,
                practice=invitation.practice_id,
                summary=f"Withdrew the invitation of {invitation.email}",
            )
        invitation.refresh_from_db()
    return bool(updated)


def find(token: str) -> Invitation:
    """The invitation of a link, or InvitationUnusable with the words to show."""
    with scopes_disabled():
        invitation = (
            Invitation.objects.select_related("practice", "invited_by")
            .filter(token_hash=hash_token(token))
            .first()
        )
    _check_usable(invitation)
    return invitation


def _check_usable(invitation: Invitation | None) -> None:
    if invitation is None:
        raise InvitationUnusable(
            "This invitation link is not valid. Check that you opened the whole link from "
            "the email, or ask the practice for a new invitation.",
            404,
        )
    practice = invitation.practice.name
    if invitation.accepted_at is not None:
        raise InvitationUnusable(
            f"This invitation to {practice} was already accepted. Log in with your email "
            "address and password.",
            410,
        )
    if invitation.revoked_at is not None:
        raise InvitationUnusable(
            f"This invitation to {practice} was withdrawn, or replaced by a newer one. Use "
            "the most recent email, or ask the practice to invite you again.",
            410,
        )
    if invitation.expires_at <= timezone.now():
        raise InvitationUnusable(
            f"This invitation to {practice} has expired. Ask the practice to send you a new one.",
            410,
        )


def existing_user(invitation: Invitation) -> User | None:
    return User.objects.filter(email__iexact=invitation.email).first()


def accept(
    token: str,
    *,
    password: str | None = None,
    first_name: str = "",
    last_name: str = "",
    request=None,
) -> tuple[User, Invitation, bool]:
    """Use the link: create the user (with ``password``) or reuse the existing account,
    add the membership and mark the invitation used, all or nothing.

    Returns (user, invitation, created). Raises InvitationUnusable, or ValidationError
    for a password the validators refuse.
    """
    with transaction.atomic(), scopes_disabled():
        invitation = (
            Invitation.objects.select_for_update(of=("self",))
            .select_related("practice", "invited_by")
            .filter(token_hash=hash_token(token))
            .first()
        )
        _check_usable(invitation)
        user = existing_user(invitation)
        created = user is None
        if created:
            user = User(
                email=invitation.email, first_name=first_name.strip(), last_name=last_name.strip()
            )
            validate_password(password or "", user)
            user.set_password(password)
            user.save()
        Membership.objects.update_or_create(
            practice=invitation.practice,
            user=user,
            defaults={
                "role": invitation.role,
                "is_surgeon": invitation.is_surgeon,
                "is_active": True,
                "deactivated_at": None,
            },
        )
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        # The actor is the new member (not whoever may be logged in in this browser).
        entry_request = request
        if request is not None:
            entry_request = _AsUser(request, user)
        record(
            entry_request,
            AuditAction.INVITATION_ACCEPTED,
            obj=invitation,
            practice=invitation.practice,
            summary=f"{user.email} joined as {invitation.get_role_display()}",
        )
    return user, invitation, created


class _AsUser:
    """A request seen as made by ``user`` (the audit entry's actor), for the moment between
    accepting and being logged in."""

    def __init__(self, request, user: User):
        self._request = request
        self.user = user
        self.practice = None

    def __getattr__(self, name):
        return getattr(self._request, name)

"""Bringing a practice and its people on board: one function per verb, each atomic.

Used by ``manage.py create_practice`` and the admin's "add membership" form.
"""

import secrets
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.text import slugify

from .models import TIME_ZONE_CHOICES, Membership, Practice, Role, User
from .scoping import practice_scope

VALID_TIME_ZONES = frozenset(tz for tz, _ in TIME_ZONE_CHOICES)


class OnboardingError(ValueError):
    """Bad input, with a message that names the field."""


@dataclass(frozen=True)
class NewMember:
    membership: Membership
    user_created: bool
    # Only for a user created just now; shown once and never stored in clear.
    one_time_password: str | None


def one_time_password() -> str:
    # 16 random bytes, URL-safe: strong, and easy to paste into the login form.
    return secrets.token_urlsafe(16)


def clean_email(email: str) -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise OnboardingError(f"email: {email!r} is not a valid email address") from None
    return email


@transaction.atomic
def ensure_user(email: str) -> tuple[User, str | None]:
    """The account for ``email``, created with a one-time password (returned) if new."""
    email = clean_email(email)
    user = User.objects.filter(email=email).first()
    if user is not None:
        return user, None
    password = one_time_password()
    return User.objects.create_user(email=email, password=password), password


@transaction.atomic
def add_member(
    practice: Practice, email: str, role: str = Role.ADMIN, *, is_surgeon: bool = False
) -> NewMember:
    """Give the person with ``email`` a ``role`` in ``practice``, creating their account
    with a one-time password if they have none."""
    if role not in Role.values:
        raise OnboardingError(f"role: {role!r} is not one of {', '.join(Role.values)}")
    user, password = ensure_user(email)
    # In the practice's own scope, whoever calls (create_practice, a command, the admin):
    # the membership is a row of that practice and nothing else is read.
    with practice_scope(practice):
        if Membership.objects.filter(practice=practice, user=user).exists():
            raise OnboardingError(f"email: {email} is already a member of {practice.name}")
        membership = Membership.objects.create(
            practice=practice, user=user, role=role, is_surgeon=is_surgeon
        )
    return NewMember(
        membership=membership, user_created=password is not None, one_time_password=password
    )


@transaction.atomic
def create_practice(
    name: str, *, slug: str = "", admin_email: str, time_zone: str = "America/New_York"
) -> tuple[Practice, NewMember]:
    """A new practice with its first administrator."""
    name = (name or "").strip()
    if not name:
        raise OnboardingError("name: a practice needs a name")
    if slug and (slug != slugify(slug) or len(slug) > 60):
        raise OnboardingError(
            f"slug: {slug!r} must be at most 60 lowercase letters, digits and dashes"
        )
    slug = slug or slugify(name)[:60]
    if not slug:
        raise OnboardingError("slug: give a slug made of lowercase letters, digits and dashes")
    if Practice.objects.filter(slug=slug).exists():
        raise OnboardingError(f"slug: {slug!r} is already taken by another practice")
    if time_zone not in VALID_TIME_ZONES:
        raise OnboardingError(
            f"time zone: {time_zone!r} is not a known time zone (e.g. America/Chicago)"
        )
    admin_email = clean_email(admin_email)
    practice = Practice.objects.create(name=name, slug=slug, time_zone=time_zone)
    return practice, add_member(practice, admin_email, Role.ADMIN)

"""The demo data generator behind ``manage.py seed_demo``.

Builds practices like the one in the seed article: two surgeons, 47 referring offices with
one to three dentists each, three years of referrals with a long tail of volume, seasons,
a realistic case mix and outcomes, a few offices drifting down, a few new and a few lost.
Deterministic for a seed and a "today"; sized by flags so benchmarks can build big tenants.

Modules: ``names`` and ``texts`` (synthetic words), ``volume`` (who refers how much and
when), ``journeys`` (the milestones of each case, through the state machine), ``writer``
(one practice into the database through practices.bulk, and ``--reset``), ``identity``
(slugs, logins).
"""

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from .identity import (
    DEMO_PASSWORD,
    DEMO_TOTP_SECRET,
    DEMO_USERS,
    TIME_ZONE,
    demo_email,
    demo_slug,
    existing_demo,
    is_demo_email,
)
from .writer import PracticeSummary, delete_demo_practices, practice_seeded, write_practice

__all__ = [
    "DEMO_PASSWORD",
    "DEMO_TOTP_SECRET",
    "demo_two_factor",
    "DemoExists",
    "Login",
    "PracticeSummary",
    "practice_seeded",
    "demo_logins",
    "demo_today",
    "seed_demo",
]


class DemoExists(Exception):
    """The demo practice or its logins exist already and no reset was asked for."""


@dataclass(frozen=True)
class Login:
    email: str
    role: str
    is_surgeon: bool
    practice_slug: str


def demo_today() -> dt.date:
    """Today in the demo practice's time zone."""
    return timezone.localdate(timezone=ZoneInfo(TIME_ZONE))


def demo_logins(practices: int = 1) -> list[Login]:
    return [
        Login(demo_email(u, demo_slug(k)), u.role, u.is_surgeon, demo_slug(k))
        for k in range(1, practices + 1)
        for u in DEMO_USERS
    ]


@dataclass(frozen=True)
class DemoTwoFactor:
    secret: str
    recovery_codes: list[str]


def demo_two_factor(emails: list[str]) -> dict[str, DemoTwoFactor]:
    """The authenticator key and unused recovery codes of those demo logins that have
    two-factor, to print next to them. Demo logins only (synthetic accounts on localhost):
    nothing else ever shows a person's key or codes after their enrolment page."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
    from allauth.mfa.utils import decrypt

    found: dict[str, DemoTwoFactor] = {}
    by_user: dict[str, dict[str, Authenticator]] = {}
    for authenticator in Authenticator.objects.filter(
        user__email__in=[e for e in emails if is_demo_email(e)]
    ).select_related("user"):
        by_user.setdefault(authenticator.user.email, {})[authenticator.type] = authenticator
    for email, kinds in by_user.items():
        totp = kinds.get(Authenticator.Type.TOTP)
        if totp is None:
            continue
        codes = kinds.get(Authenticator.Type.RECOVERY_CODES)
        found[email] = DemoTwoFactor(
            secret=decrypt(totp.data["secret"]),
            recovery_codes=RecoveryCodes(codes).get_unused_codes() if codes else [],
        )
    return found


def seed_demo(
    *,
    seed: int = 1,
    today: dt.date | None = None,
    practices: int = 1,
    offices: int = 47,
    years: int = 3,
    reset: bool = False,
    on_practice=None,
) -> list[PracticeSummary]:
    """Create ``practices`` demo practices (all or nothing). Refuses with
    :class:`DemoExists` when one of them or one of their logins exists, unless ``reset``,
    which deletes those demo practices (and everything in them) first."""
    if practices < 1 or offices < 1 or years < 1:
        raise ValueError("practices, offices and years must each be at least 1")
    today = today or demo_today()
    found_slugs, found_emails = existing_demo(practices)
    if (found_slugs or found_emails) and not reset:
        raise DemoExists(_exists_message(found_slugs, found_emails))
    # One hash for every demo login: hashing is deliberately slow, and it is one password.
    password_hash = make_password(DEMO_PASSWORD)
    summaries = []
    with transaction.atomic():
        if reset:
            delete_demo_practices(found_slugs)
        for number in range(1, practices + 1):
            summary = write_practice(
                number,
                seed=seed,
                today=today,
                offices=offices,
                years=years,
                password_hash=password_hash,
            )
            summaries.append(summary)
            if on_practice is not None:
                on_practice(summary)
    return summaries


def _exists_message(slugs: list[str], emails: list[str]) -> str:
    parts = []
    if slugs:
        parts.append("demo practice(s) " + ", ".join(slugs))
    if emails:
        shown = ", ".join(emails[:5]) + (" ..." if len(emails) > 5 else "")
        parts.append(f"login(s) {shown}")
    return (
        f"The {' and '.join(parts)} already exist. Run `manage.py seed_demo --reset` to delete "
        "the demo practice's data and create it again, or `--if-empty` to skip seeding "
        "when any practice exists."
    )

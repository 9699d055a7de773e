"""GP status-page links. Minimal version written by the letters feature (an email in
"no PHI in email" mode carries only such a link); the status-page feature owns this
module and may grow it (revoking, listing, the page itself).

A link's token is shown once, in the URL; only its SHA-256 is stored, so a database
leak gives no working links.
"""

import datetime as dt
import hashlib
import secrets

from django.conf import settings
from django.utils import timezone

from practices.models import settings_for
from referrals.models import ReferringOffice

from .models import StatusLink


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_status_link(office: ReferringOffice, *, by=None) -> tuple[StatusLink, str]:
    """A new link to ``office``'s status page; returns (link, token). Valid for the
    practice's status_link_days."""
    token = secrets.token_urlsafe(32)
    days = settings_for(office.practice).status_link_days
    link = StatusLink.objects.create(
        practice_id=office.practice_id,
        office=office,
        token_hash=hash_token(token),
        created_by=by,
        expires_at=timezone.now() + dt.timedelta(days=days),
    )
    return link, token


def status_url(token: str) -> str:
    return f"{settings.SITE_URL}/status/{token}/"


def status_link_url_for(office: ReferringOffice) -> str:
    """The URL of a fresh status link for ``office`` (for a letter's email)."""
    _, token = create_status_link(office)
    return status_url(token)

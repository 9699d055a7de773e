"""GP status-page links: create, list, revoke, resolve a token, log each use. An email in
"no PHI in email" mode carries only such a link (delivery.build_message).

A link's token is shown once, in the URL; only its SHA-256 is stored, so a database
leak gives no working links.
"""

import datetime as dt
import hashlib
import logging
import secrets

from django.conf import settings
from django.utils import timezone
from django_scopes import scopes_disabled

from practices.models import settings_for
from referrals.models import ReferringOffice

from .models import StatusLink, StatusLinkAccess

log = logging.getLogger(__name__)


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


def links_of(office: ReferringOffice):
    return StatusLink.objects.filter(office=office).select_related("created_by")


def revoke(link: StatusLink, *, by=None) -> StatusLink:
    """End a link now (idempotent: a revoked link keeps its first revocation time)."""
    StatusLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    link.refresh_from_db(fields=["revoked_at"])
    log.info("status link %s revoked by user %s", link.pk, getattr(by, "pk", None))
    return link


def is_live(link: StatusLink, now: dt.datetime | None = None) -> bool:
    now = now or timezone.now()
    return link.revoked_at is None and link.expires_at > now


def link_for_token(token: str) -> StatusLink | None:
    """The live link a token opens, or None (unknown, revoked or expired). Looked up
    across practices by the hash (unique), because the token is what names the practice;
    the caller then enters that practice's scope."""
    if not token or len(token) > 100:
        return None
    with scopes_disabled():
        link = (
            StatusLink.objects.select_related("practice", "office")
            .filter(token_hash=hash_token(token))
            .first()
        )
    if link is None or not is_live(link):
        return None
    return link


def record_access(link: StatusLink, request, target: str = "page") -> None:
    """Log one use of a link (who opened what, from where) and stamp last_used_at."""
    now = timezone.now()
    StatusLinkAccess.objects.create(
        practice_id=link.practice_id,
        link=link,
        ip_address=request.META.get("REMOTE_ADDR") or None,
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
        target=target[:40],
    )
    StatusLink.objects.filter(pk=link.pk).update(last_used_at=now)

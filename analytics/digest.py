"""One email a night to the practice's alert recipients listing the alerts raised since the
last digest — never one email per alert."""

import datetime as dt
import hashlib

from django.conf import settings as django_settings
from django.template.loader import render_to_string
from django.utils import timezone

from alerts.models import Alert
from communications.models import EmailKind
from communications.outbox import queue_email
from practices.models import Membership, Practice, Role, settings_for


def digest_recipients(practice: Practice) -> list[str]:
    """The practice's alert recipients, or its administrators when none are set."""
    recipients = settings_for(practice).recipient_list
    if recipients:
        return recipients
    return sorted(Membership.objects.filter(role=Role.ADMIN).values_list("user__email", flat=True))


def digest_key(as_of: dt.date, alerts: list[Alert]) -> str:
    """The outbox key of the digest announcing exactly these alerts.

    Keyed by the alerts, not only the date: a second run on the same day ("Recompute now"
    after the night's run) that raises new alerts gets its own digest instead of finding
    the first one and marking its alerts announced without sending them. A retry of the
    same run (same alerts) still finds its row.
    """
    ids = ",".join(str(pk) for pk in sorted(a.pk for a in alerts))
    return f"alert-digest:{as_of.isoformat()}:{hashlib.sha256(ids.encode()).hexdigest()[:16]}"


def queue_digest(practice: Practice, as_of: dt.date):
    """Write tonight's digest to the outbox (in the caller's transaction). Returns the email
    or None when there is nothing new to tell or nobody to tell."""
    pending = list(
        Alert.objects.filter(digested_at__isnull=True)
        .select_related("office")
        .order_by("kind", "office__name")
    )
    recipients = digest_recipients(practice)
    if not pending or not recipients:
        return None
    context = {
        "practice": practice,
        "as_of": as_of,
        "alerts": pending,
        "base_url": getattr(django_settings, "SITE_URL", ""),
    }
    email, _ = queue_email(
        practice,
        kind=EmailKind.ALERT_DIGEST,
        dedupe_key=digest_key(as_of, pending),
        to=recipients,
        subject=f"{len(pending)} new referrer alert{'s' if len(pending) != 1 else ''} "
        f"— {practice.name}",
        body_text=render_to_string("analytics/email/digest.txt", context),
        body_html=render_to_string("analytics/email/digest.html", context),
    )
    Alert.objects.filter(pk__in=[a.pk for a in pending]).update(digested_at=timezone.now())
    return email

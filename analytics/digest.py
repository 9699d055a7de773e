"""One email a night to the practice's alert recipients listing the alerts raised since the
last digest — never one email per alert."""

import datetime as dt
import hashlib
from collections import defaultdict

from django.conf import settings as django_settings
from django.template.loader import render_to_string
from django.utils import timezone

from alerts.models import Alert
from communications.models import EmailKind
from communications.outbox import Draft, queue_emails
from practices.models import Membership, Practice, Role, settings_for


def digest_recipients(practice: Practice) -> list[str]:
    """The practice's alert recipients, or its administrators when none are set."""
    return _recipients([practice])[practice.pk]


def _recipients(practices: list[Practice]) -> dict[int, list[str]]:
    """:func:`digest_recipients` of many practices: one query for the administrators of
    those without alert recipients."""
    found = {p.pk: settings_for(p).recipient_list for p in practices}
    admins = Membership.objects.filter(
        practice_id__in=[pk for pk, to in found.items() if not to], role=Role.ADMIN
    ).values_list("practice_id", "user__email")
    for practice_id, email in sorted(admins):
        found[practice_id].append(email)
    return found


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
    return queue_digests([practice], as_of).get(practice.pk)


def queue_digests(practices: list[Practice], as_of: dt.date) -> dict:
    """:func:`queue_digest` for many practices at once (a nightly batch, outside any scope):
    one query for their pending alerts, one for the administrators of those without alert
    recipients, one outbox insert and one update. Returns {practice id: email}."""
    by_id = {p.pk: p for p in practices}
    pending: dict[int, list[Alert]] = defaultdict(list)
    for alert in (
        Alert.objects.filter(practice_id__in=by_id, digested_at__isnull=True)
        .select_related("office")
        .order_by("kind", "office__name")
    ):
        pending[alert.practice_id].append(alert)
    recipients = _recipients([by_id[pk] for pk in pending])
    drafts, announced = [], []
    for pk, alerts in pending.items():
        practice = by_id[pk]
        to = recipients[pk]
        if not to:
            continue
        context = {
            "practice": practice,
            "as_of": as_of,
            "alerts": alerts,
            "base_url": getattr(django_settings, "SITE_URL", ""),
        }
        drafts.append(
            Draft(
                practice_id=pk,
                kind=EmailKind.ALERT_DIGEST,
                dedupe_key=digest_key(as_of, alerts),
                to=to,
                subject=f"{len(alerts)} new referrer alert{'s' if len(alerts) != 1 else ''} "
                f"— {practice.name}",
                body_text=render_to_string("analytics/email/digest.txt", context),
                body_html=render_to_string("analytics/email/digest.html", context),
            )
        )
        announced += [a.pk for a in alerts]
    emails = queue_emails(drafts)
    Alert.objects.filter(pk__in=announced).update(digested_at=timezone.now())
    return {email.practice_id: email for email in emails}

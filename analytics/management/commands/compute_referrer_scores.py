import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from analytics.nightly import recompute
from practices.models import Practice
from practices.scoping import practice_scope


class Command(BaseCommand):
    help = (
        "Recompute referrer health (rollups, snapshots, alerts) for one practice or all, as of "
        "a date (default: today in each practice's time zone). Replays history for past dates."
    )

    def add_arguments(self, parser):
        parser.add_argument("--practice", help="Practice slug (default: every practice)")
        parser.add_argument("--as-of", help="YYYY-MM-DD (default: the practice's today)")
        parser.add_argument(
            "--json", action="store_true", help="Print each office's snapshot as JSON"
        )
        parser.add_argument(
            "--no-alerts", action="store_true", help="Write snapshots only, raise no alerts"
        )

    def handle(self, *args, **options):
        as_of = None
        if options["as_of"]:
            try:
                as_of = dt.date.fromisoformat(options["as_of"])
            except ValueError as exc:
                raise CommandError("--as-of must be a date like 2026-11-26") from exc
        practices = Practice.objects.order_by("pk")
        if options["practice"]:
            practices = practices.filter(slug=options["practice"])
            if not practices.exists():
                raise CommandError(f"No practice with slug {options['practice']!r}")
        output = []
        for practice in practices:
            day = as_of or timezone.localdate(timezone=_zone(practice))
            with practice_scope(practice):
                result = recompute(practice, day, raise_alerts=not options["no_alerts"])
            counts: dict[str, int] = {}
            for snap in result.snapshots:
                counts[snap.status] = counts.get(snap.status, 0) + 1
            summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
            self.stderr.write(
                f"{practice.slug}: as of {day}: {len(result.snapshots)} offices ({summary}); "
                f"{len(result.new_alerts)} new alerts"
            )
            if options["json"]:
                for snap in sorted(result.snapshots, key=lambda s: -s.priority):
                    output.append(
                        {
                            "practice": practice.slug,
                            "office": result.office_names[snap.office_id],
                            "office_id": snap.office_id,
                            "as_of": day.isoformat(),
                            "status": snap.status,
                            "count_30": snap.count_30,
                            "count_60": snap.count_60,
                            "count_90": snap.count_90,
                            "last_referral_on": snap.last_referral_on.isoformat()
                            if snap.last_referral_on
                            else None,
                            "baseline_rate": snap.baseline_rate,
                            "recent_rate": snap.recent_rate,
                            "revenue_at_risk": str(snap.revenue_at_risk),
                            "priority": snap.priority,
                            "reason": snap.reason,
                        }
                    )
        if options["json"]:
            self.stdout.write(json.dumps(output, indent=2))


def _zone(practice):
    from zoneinfo import ZoneInfo

    return ZoneInfo(practice.time_zone)

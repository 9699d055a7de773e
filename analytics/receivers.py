"""Keep derived analytics right when the referral domain changes.

``referrals`` sends signals and knows nothing of us; the refresh runs after the commit so
it sees committed rows, and a failure here can never undo an intake.
"""

from django.db import transaction
from django.dispatch import receiver

from practices.models import Practice
from practices.scoping import practice_scope
from referrals.signals import milestone_recorded, office_activity_changed

from .rollups import rebuild_rollups


def _refresh_later(practice_id: int, office_ids) -> None:
    office_ids = sorted({i for i in office_ids if i})
    if not office_ids:
        return

    def refresh():
        practice = Practice.objects.get(pk=practice_id)
        with practice_scope(practice):
            rebuild_rollups(practice, office_ids)

    transaction.on_commit(refresh)


@receiver(milestone_recorded)
def refresh_rollups_on_milestone(sender, referral, event, historical=False, **kwargs):
    _refresh_later(referral.practice_id, [referral.referring_office_id])


@receiver(office_activity_changed)
def refresh_rollups_on_bulk_change(sender, practice_id, office_ids, **kwargs):
    _refresh_later(practice_id, office_ids)

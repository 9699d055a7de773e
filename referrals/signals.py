"""Domain signals. Sent inside the transaction of the change, so a receiver that writes
rows (the letter outbox) commits or rolls back with it. ``referrals`` knows no receiver."""

from django.dispatch import Signal

# kwargs: referral, event, historical (bool: imported history, must not mail anyone)
milestone_recorded = Signal()
# kwargs: office, referral — the first referral ever from an office (a new relationship)
first_referral_from_office = Signal()
# kwargs: practice_id, office_ids — referrals or events of these offices changed in bulk or
# were corrected (import, merge, a voided step): derived data must be refreshed.
office_activity_changed = Signal()

"""Letters are triggered by the milestone itself (shared/DESIGN.md): ``referrals`` sends
``milestone_recorded`` inside the transaction of the change, and this receiver writes the
letters to the outbox in that same transaction — a milestone and its letters commit or
roll back together. The send is dispatched after the commit (letters.dispatch_on_commit).
"""

from django.dispatch import receiver

from practices.scoping import practice_scope
from referrals.demo import practice_seeded
from referrals.signals import milestone_recorded

from .demo_letters import write_letter_history
from .letters import queue_letters_for_event


@receiver(milestone_recorded, dispatch_uid="communications.queue_letters_on_milestone")
def queue_letters_on_milestone(sender, referral, event, historical=False, **kwargs):
    # Imported history must never mail a GP about a visit of years ago.
    if historical or referral.is_historical:
        return
    # The referral's own practice: a command or task may send the signal outside a scope.
    with practice_scope(referral.practice_id):
        queue_letters_for_event(event, referral=referral)


@receiver(practice_seeded, dispatch_uid="communications.demo_letter_history")
def write_demo_letter_history(sender, practice, today, seed, number, summary, **kwargs):
    # The demo's referrals are history, which the trigger above never writes letters for:
    # the demo gets its letters here, once, already delivered (demo_letters.py).
    summary.extras.update(write_letter_history(practice, today=today, seed=seed, number=number))

"""Merging two rows that are the same referring office.

One office was typed in twice; its referrals are split, so neither row looks like the
referrer it is. A merge keeps one office (the survivor) and folds the other (the absorbed
office) into it: referrals, doctors and history move, the survivor's empty fields may be
filled from the absorbed office, the absorbed row is deleted, and the merge is written in
the survivor's history. All in one transaction, or not at all.
"""

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from .choices import OfficeEventKind
from .models import OfficeEvent, Referral, ReferringOffice, ReferringProvider
from .signals import office_activity_changed

logger = logging.getLogger(__name__)

# Contact fields the survivor may take from the absorbed office when its own are empty.
FILLABLE_FIELDS = ("address", "city", "state", "zip_code", "phone", "fax", "email", "external_id")


class MergeRefused(ValidationError):
    """The two offices cannot be merged (same office, different practices)."""


@dataclass
class MergePreview:
    """What a merge would do; shown on the confirmation page before anything changes."""

    survivor: ReferringOffice
    absorbed: ReferringOffice
    referrals: int
    providers: int
    events: int
    # field name -> (label, value from the absorbed office)
    filled: dict[str, tuple[str, str]]
    # Doctors with the same name at both offices: both rows stay, listed twice.
    same_name_providers: list[str]
    first_referral_on: dt.date | None


@dataclass
class MergeResult:
    survivor: ReferringOffice
    absorbed_id: int
    absorbed_name: str
    referrals_moved: int
    providers_moved: int
    events_moved: int
    filled_fields: list[str]
    event: OfficeEvent
    # Rows of other apps (e.g. outreach log) that pointed at the absorbed office.
    other_moved: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        parts = [
            f"Merged “{self.absorbed_name}” into “{self.survivor.name}”: "
            f"{_plural(self.referrals_moved, 'referral')}, "
            f"{_plural(self.providers_moved, 'doctor')} and "
            f"{_plural(self.events_moved, 'history entry', 'history entries')} moved."
        ]
        if self.filled_fields:
            labels = ", ".join(_label(name) for name in self.filled_fields)
            parts.append(f"Filled from the merged office: {labels}.")
        return " ".join(parts)


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _label(field_name: str) -> str:
    return str(ReferringOffice._meta.get_field(field_name).verbose_name)


def _check(survivor: ReferringOffice, absorbed: ReferringOffice) -> None:
    if survivor.pk == absorbed.pk:
        raise MergeRefused({"absorbed": "An office cannot be merged with itself."})
    if survivor.practice_id != absorbed.practice_id:
        raise MergeRefused({"absorbed": "Offices of different practices cannot be merged."})


def _fillable(survivor: ReferringOffice, absorbed: ReferringOffice) -> dict[str, str]:
    return {
        name: getattr(absorbed, name)
        for name in FILLABLE_FIELDS
        if not (getattr(survivor, name) or "").strip() and (getattr(absorbed, name) or "").strip()
    }


def _earliest(*days: dt.date | None) -> dt.date | None:
    known = [d for d in days if d is not None]
    return min(known) if known else None


def _full_name(provider: ReferringProvider) -> str:
    return f"{provider.first_name} {provider.last_name}".strip().lower()


def preview_merge(survivor: ReferringOffice, absorbed: ReferringOffice) -> MergePreview:
    """Counts of what would move, read-only (a handful of queries)."""
    _check(survivor, absorbed)
    survivor_names = {_full_name(p) for p in survivor.providers.all()}
    absorbed_providers = list(absorbed.providers.all())
    same = sorted(str(p) for p in absorbed_providers if _full_name(p) in survivor_names)
    return MergePreview(
        survivor=survivor,
        absorbed=absorbed,
        referrals=Referral.objects.filter(referring_office=absorbed).count(),
        providers=len(absorbed_providers),
        events=OfficeEvent.objects.filter(office=absorbed).count(),
        filled={
            name: (_label(name), value) for name, value in _fillable(survivor, absorbed).items()
        },
        same_name_providers=same,
        first_referral_on=_earliest(survivor.first_referral_on, absorbed.first_referral_on),
    )


@transaction.atomic
def merge_offices(survivor: ReferringOffice, absorbed: ReferringOffice, *, by) -> MergeResult:
    """Fold ``absorbed`` into ``survivor``; ``by`` is the user doing it (or None)."""
    _check(survivor, absorbed)
    # Lock both rows, in id order so two merges of the same pair cannot deadlock. An
    # intake saving a referral for the absorbed office meanwhile either commits first (its
    # referral is then moved below: each UPDATE sees rows committed before it runs) or
    # waits for this transaction and then fails on the deleted office, never orphaned.
    locked = {
        office.pk: office
        for office in ReferringOffice.objects.select_for_update()
        .filter(pk__in=[survivor.pk, absorbed.pk])
        .order_by("pk")
    }
    if len(locked) != 2:
        raise MergeRefused({"absorbed": "One of the offices no longer exists."})
    survivor, absorbed = locked[survivor.pk], locked[absorbed.pk]

    referrals_moved = Referral.objects.filter(referring_office=absorbed).update(
        referring_office=survivor, updated_at=timezone.now()
    )
    providers_moved = ReferringProvider.objects.filter(office=absorbed).update(
        office=survivor, updated_at=timezone.now()
    )
    events_moved = _move_history(survivor, absorbed)

    other_moved = _move_other_rows(survivor, absorbed)

    filled = _fillable(survivor, absorbed)
    absorbed_id, absorbed_name = absorbed.pk, absorbed.name
    first_referral_on = _earliest(survivor.first_referral_on, absorbed.first_referral_on)
    # Delete before filling the survivor: the PMS id is unique per practice. Every row
    # pointing here has moved; PROTECT on referrals and doctors would stop the delete
    # (and roll everything back) if one had not.
    absorbed.delete()

    for name, value in filled.items():
        setattr(survivor, name, value)
    survivor.first_referral_on = first_referral_on
    survivor.save(update_fields=[*filled, "first_referral_on", "updated_at"])

    event = OfficeEvent.objects.create(
        practice_id=survivor.practice_id,
        office=survivor,
        kind=OfficeEventKind.MERGED,
        occurred_on=timezone.localdate(),
        by=by,
        # Office facts and counts only: never patient data.
        details={
            "absorbed_id": absorbed_id,
            "absorbed_name": absorbed_name,
            "referrals_moved": referrals_moved,
            "providers_moved": providers_moved,
            "events_moved": events_moved,
            "filled_fields": list(filled),
            **({"other_moved": other_moved} if other_moved else {}),
        },
    )
    # Derived data (analytics' monthly rollups) of the survivor now counts both offices.
    office_activity_changed.send(
        sender=ReferringOffice, practice_id=survivor.practice_id, office_ids=[survivor.pk]
    )
    logger.info(
        "office %s merged into office %s (practice %s): %s referrals, %s doctors moved",
        absorbed_id,
        survivor.pk,
        survivor.practice_id,
        referrals_moved,
        providers_moved,
    )
    return MergeResult(
        survivor=survivor,
        absorbed_id=absorbed_id,
        absorbed_name=absorbed_name,
        referrals_moved=referrals_moved,
        providers_moved=providers_moved,
        events_moved=events_moved,
        filled_fields=list(filled),
        event=event,
        other_moved=other_moved,
    )


def _move_history(survivor: ReferringOffice, absorbed: ReferringOffice) -> int:
    # Each moved entry remembers the office it was written for: the survivor's history
    # may then show two "first referral" entries, and the reader needs to know why.
    events = list(OfficeEvent.objects.filter(office=absorbed))
    for event in events:
        event.office = survivor
        event.details = {
            **event.details,
            "recorded_for": {"id": absorbed.pk, "name": absorbed.name},
        }
    OfficeEvent.objects.bulk_update(events, ["office", "details"])
    return len(events)


HANDLED = {Referral, ReferringProvider, OfficeEvent}


def _move_other_rows(survivor: ReferringOffice, absorbed: ReferringOffice) -> dict[str, int]:
    """Move rows of models this module does not know (e.g. analytics' outreach log) that
    still point at the absorbed office, so deleting it cascades over nothing.

    A row that cannot move because the survivor already has its twin (a unique
    constraint: the same month's rollup or the same night's snapshot) is derived data: it
    goes with the absorbed office, and the survivor's is rebuilt (office_activity_changed,
    then the nightly job).
    """
    moved: dict[str, int] = {}
    for relation in ReferringOffice._meta.related_objects:
        model = relation.related_model
        if model in HANDLED or not (relation.one_to_many or relation.one_to_one):
            continue
        name = relation.field.name
        # _base_manager: a plain manager. The filter on the absorbed office (locked, of
        # this practice) keeps the query inside the tenant.
        rows = model._base_manager.filter(**{name: absorbed})
        try:
            with transaction.atomic():
                count = rows.update(**{name: survivor})
        except IntegrityError:
            count = 0
            for pk in rows.values_list("pk", flat=True):
                try:
                    with transaction.atomic():
                        count += model._base_manager.filter(pk=pk).update(**{name: survivor})
                except IntegrityError:
                    continue
        if count:
            moved[model._meta.label] = count
    return moved

"""The intake's office-and-doctor typeahead: office name, doctor name, ZIP or phone.

Two queries whatever the number of offices: the matching offices (at most ``limit``,
archived ones left out) and their active doctors. Doctor names are matched with an EXISTS
subquery, not a join, so an office with five matching doctors is still one row.
"""

import re
from dataclasses import dataclass

from django.db.models import Case, Exists, IntegerField, OuterRef, Prefetch, Q, Value, When

from .models import ReferringOffice, ReferringProvider
from .patients import PHONE_LIKE, digits_expression

SEARCH_LIMIT = 10
MIN_QUERY_LENGTH = 2
# "Dr. Smith" means Smith: titles never narrow the search.
TITLES = frozenset({"dr", "dr.", "drs", "drs.", "doctor", "dds", "dmd"})


@dataclass
class OfficeMatch:
    office: ReferringOffice
    providers: list[ReferringProvider]
    # The doctor the query named, to preselect when the office is chosen.
    matched_provider: ReferringProvider | None


def active_providers() -> Prefetch:
    return Prefetch(
        "providers",
        queryset=ReferringProvider.objects.filter(is_archived=False).order_by(
            "last_name", "first_name"
        ),
        to_attr="active_providers",
    )


def _words(query: str) -> list[str]:
    return [w for w in re.split(r"[\s,]+", query) if w and w.lower() not in TITLES]


def search_offices(query: str, limit: int = SEARCH_LIMIT) -> list[OfficeMatch]:
    query = query.strip()
    if len(query) < MIN_QUERY_LENGTH:
        return []
    offices = ReferringOffice.objects.filter(is_archived=False)
    words = _words(query)
    if PHONE_LIKE.match(query):
        digits = re.sub(r"\D", "", query)
        condition = Q(zip_code__startswith=digits)
        if len(digits) >= 3:
            offices = offices.alias(phone_digits=digits_expression("phone"))
            condition |= Q(phone_digits__contains=digits)
        offices = offices.filter(condition)
        words = []
    for word in words:
        doctor_named = ReferringProvider.objects.filter(
            office=OuterRef("pk"), is_archived=False
        ).filter(Q(last_name__icontains=word) | Q(first_name__icontains=word))
        offices = offices.filter(
            Q(name__icontains=word) | Q(zip_code__startswith=word) | Exists(doctor_named)
        )
    first = words[0] if words else query
    offices = (
        offices.annotate(
            rank=Case(
                When(name__istartswith=first, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by("rank", "name", "pk")
        .prefetch_related(active_providers())[:limit]
    )
    return [
        OfficeMatch(office, office.active_providers, _named_doctor(office.active_providers, words))
        for office in offices
    ]


def _named_doctor(providers: list[ReferringProvider], words: list[str]) -> ReferringProvider | None:
    if len(providers) == 1:
        return providers[0]
    lowered = [w.lower() for w in words]
    for provider in providers:
        names = f"{provider.first_name} {provider.last_name}".lower()
        if lowered and any(w in names for w in lowered):
            return provider
    return None

"""The GP status page: a referring office opens its secure link (no account) and sees its
referred patients of the last 12 months, where each is in the journey, and the letters
sent about them (PDF, through a URL checked against the same token).

The token names the practice and the office, so the view enters that practice's scope
itself. Anything wrong with a token (unknown, revoked, expired) or a letter of another
office is a 404, never a 403: a 403 would confirm that the thing exists. Every use is
logged; nothing is cached; search engines are told to keep out; the token never leaves
in a Referer header.
"""

import datetime as dt

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET

from practices.audit import ActorKind, AuditAction, record
from practices.models import settings_for
from practices.rate_limits import hit, too_many_requests
from practices.scoping import practice_scope
from referrals.models import Referral

from .. import letters, status_links
from ..loop_closure import DONE
from ..models import Letter

WINDOW = dt.timedelta(days=365)


def _private(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store, private, max-age=0"
    response["Pragma"] = "no-cache"
    response["X-Robots-Tag"] = "noindex, nofollow, noarchive"
    response["Referrer-Policy"] = "no-referrer"
    return response


def _limited(request) -> HttpResponse | None:
    """Over the limit of its address (RATE_LIMITS["status_page"]), the page and its PDFs
    answer 429 before the token is even looked up: guessing tokens costs a stranger time,
    and an unknown token counts like a good one."""
    wait = hit(request, "status_page")
    if wait is None:
        return None
    return _private(
        too_many_requests(
            request,
            retry_after=wait,
            context={
                "reason": "This secure status page was opened too many times from your "
                "network in a short time."
            },
        )
    )


def _live_link(token: str):
    link = status_links.link_for_token(token)
    if link is None:
        raise Http404("No such page.")
    return link


def _as_status_token(request, link) -> None:
    """The actor of this request is the link, not a person (nobody logs in here)."""
    request.audit_actor = (
        ActorKind.STATUS_TOKEN,
        f"GP status link #{link.pk} of referring office #{link.office_id}",
    )


def patient_label(patient, phi: str) -> str:
    """How a patient is named to the office, as the practice chose (minimal by default)."""
    if phi == "full_name":
        return f"{patient.first_name} {patient.last_name}"
    return patient.initials or "—"


@require_GET
def status_page(request, token: str):
    if limited := _limited(request):
        return limited
    link = _live_link(token)
    practice = link.practice
    with practice_scope(practice), timezone.override(practice.time_zone):
        phi = settings_for(practice).status_page_phi
        since = timezone.localdate() - WINDOW
        referrals = list(
            Referral.objects.filter(referring_office=link.office, received_on__gte=since)
            .select_related("patient", "referring_provider")
            .order_by("-received_on", "-id")
        )
        sent: dict[int, list[Letter]] = {r.pk: [] for r in referrals}
        for letter in Letter.objects.filter(
            office=link.office, referral_id__in=list(sent), status__in=DONE
        ).order_by("due_at", "id"):
            sent[letter.referral_id].append(letter)
        rows = [
            {
                "referral": r,
                "label": patient_label(r.patient, phi),
                "dob": r.patient.date_of_birth if phi != "initials" else None,
                "letters": sent[r.pk],
            }
            for r in referrals
        ]
        status_links.record_access(link, request, "page")
        _as_status_token(request, link)
        record(
            request,
            AuditAction.LISTED,
            object_type="referral",
            count=len(rows),
            practice=practice,
            summary="GP status page",
        )
        response = render(
            request,
            "communications/status_page/page.html",
            {
                "practice": practice,
                "office": link.office,
                "rows": rows,
                "token": token,
                "link": link,
                "since": since,
                # Not rows.0.dob: the first patient's birth date may be unknown.
                "show_dob": phi != "initials" and bool(rows),
            },
        )
    return _private(response)


@require_GET
def status_letter_pdf(request, token: str, letter_id: int):
    if limited := _limited(request):
        return limited
    link = _live_link(token)
    practice = link.practice
    with practice_scope(practice), timezone.override(practice.time_zone):
        letter = (
            Letter.objects.select_related("practice", "referral__patient", "event")
            .filter(pk=letter_id, office=link.office, status__in=DONE)
            .first()
        )
        if letter is None:
            raise Http404("No such letter.")
        content = letters.letter_pdf(letter)
        status_links.record_access(link, request, f"letter:{letter.pk}")
        _as_status_token(request, link)
        record(
            request,
            AuditAction.DOWNLOADED,
            obj=letter,
            practice=practice,
            summary="Letter PDF from the GP status page",
        )
        filename = letters.pdf_filename(letter)
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return _private(response)


urlpatterns = [
    path("status/<str:token>/", status_page, name="status_page"),
    path(
        "status/<str:token>/letters/<int:letter_id>.pdf",
        status_letter_pdf,
        name="status_letter_pdf",
    ),
]

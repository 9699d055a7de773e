"""The delivery log: every letter of the practice, of a case or of an office, with what
became of it; resending one and downloading its PDF; the overdue-letter worklist; and the
office's status-page links (created and revoked by staff).

The per-case and per-office panels are template tags (communications/templatetags/
letters.py) so the case and office pages only include them. Services live in
communications/letters.py and status_links.py; these views are thin.
"""

import datetime as dt

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from practices.access import Action
from practices.audit import AuditAction, record
from practices.models import settings_for
from practices.permissions import practice_required
from referrals.models import ReferringOffice

from .. import letters, loop_closure, status_links
from ..models import Letter, LetterKind, LetterStatus, StatusLink

PER_PAGE = 50
# Who hands out and revokes GP status links (they open patient data to an outside office).


def _letters():
    return Letter.objects.select_related("office", "referral__patient")


def _parse_day(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _filtered(request) -> tuple:
    """The letters the query string asks for, and the filters as shown back to the user."""
    q = request.GET
    rows = _letters()
    errors = {}
    status = q.get("status", "")
    if status in LetterStatus.values:
        rows = rows.filter(status=status)
    kind = q.get("kind", "")
    if kind in LetterKind.values:
        rows = rows.filter(kind=kind)
    office = q.get("office", "")
    if office.isdigit():
        rows = rows.filter(office_id=int(office))
    tz = timezone.get_current_timezone()
    start, end = q.get("from", ""), q.get("to", "")
    if start:
        day = _parse_day(start)
        if day is None:
            errors["from"] = "From: enter a date like 2026-03-01."
        else:
            rows = rows.filter(due_at__gte=dt.datetime.combine(day, dt.time(), tz))
    if end:
        day = _parse_day(end)
        if day is None:
            errors["to"] = "To: enter a date like 2026-03-31."
        else:
            next_day = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tz)
            rows = rows.filter(due_at__lt=next_day)
    overdue = q.get("overdue") == "1"
    if overdue:
        overdue_ids = loop_closure.overdue_letters(request.practice).values("pk")
        rows = rows.filter(pk__in=overdue_ids)
    filters = {
        "status": status,
        "kind": kind,
        "office": office,
        "from": start,
        "to": end,
        "overdue": overdue,
    }
    return rows.order_by("-due_at", "-id"), filters, errors


@practice_required(Action.VIEW_LETTERS)
@require_GET
def letter_list(request):
    """All letters of the practice, filtered; the page, or for htmx only the table."""
    rows, filters, errors = _filtered(request)
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    shown = list(page.object_list)
    record(
        request,
        AuditAction.LISTED,
        object_type="letter",
        count=len(shown),
        summary="Letters (delivery log)",
    )
    context = {
        "page": page,
        "letters": shown,
        "filters": filters,
        "errors": errors,
        "query": query.urlencode(),
        "statuses": LetterStatus.choices,
        "kinds": LetterKind.choices,
        "offices": ReferringOffice.objects.order_by("name").only("id", "name"),
        "next_url": request.get_full_path(),
        "grace_days": settings_for(request.practice).loop_closure_days,
    }
    template = (
        "communications/delivery/_list_results.html"
        if request.htmx
        else "communications/delivery/list.html"
    )
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@practice_required(Action.VIEW_LETTERS)
@require_GET
def overdue_worklist(request):
    """Referrals with a letter due more than loop_closure_days ago and not sent."""
    overdue = loop_closure.overdue_letters(request.practice)
    referral_ids = overdue.order_by("referral_id").values_list("referral_id", flat=True).distinct()
    page = Paginator(referral_ids, PER_PAGE).get_page(request.GET.get("page"))
    ids = list(page.object_list)
    by_referral: dict[int, list[Letter]] = {pk: [] for pk in ids}
    for letter in (
        overdue.filter(referral_id__in=ids)
        .select_related("office", "referral__patient", "referral__referring_office")
        .order_by("due_at", "id")
    ):
        by_referral[letter.referral_id].append(letter)
    cases = sorted(
        ((rows[0].referral, rows) for rows in by_referral.values() if rows),
        key=lambda pair: pair[1][0].due_at,
    )
    record(
        request,
        AuditAction.LISTED,
        object_type="referral",
        count=len(cases),
        summary="Overdue letters",
    )
    return render(
        request,
        "communications/delivery/overdue.html",
        {
            "page": page,
            "cases": cases,
            "grace_days": settings_for(request.practice).loop_closure_days,
            "next_url": request.get_full_path(),
        },
    )


def _back(request, letter: Letter) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("referral_detail", args=[letter.referral_id])


@practice_required(Action.SEND_LETTERS)
@require_http_methods(["GET", "POST"])
def letter_resend(request, pk: int):
    """Send a letter again. A letter that already went out is only sent again after the
    user confirms on a page of its own (GET); a failed or skipped one goes at once."""
    letter = get_object_or_404(_letters(), pk=pk)
    already_sent = letter.status in loop_closure.DONE
    if request.method == "GET" or (already_sent and request.POST.get("confirm") != "yes"):
        record(request, AuditAction.VIEWED, obj=letter)
        return render(
            request,
            "communications/delivery/resend_confirm.html",
            {"letter": letter, "already_sent": already_sent, "next_url": _back(request, letter)},
        )
    patient_id = letter.referral.patient_id  # loaded with the letter; resend relocks it
    try:
        letter = letters.resend(letter, by=request.user)
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    else:
        record(
            request,
            AuditAction.CHANGED,
            obj=letter,
            patient=patient_id,
            summary="Resent to the referring office",
        )
        where = (
            "queued to send by email"
            if letter.status == LetterStatus.QUEUED
            else "put in the print queue"
        )
        messages.success(request, f"{letter} to {letter.recipient_name} {where}.")
    return redirect(_back(request, letter))


@practice_required(Action.VIEW_LETTERS)
@require_GET
def letter_download(request, pk: int):
    """A letter's PDF as a download (the stored one, or rendered now and stored)."""
    letter = get_object_or_404(_letters().select_related("practice", "event"), pk=pk)
    response = HttpResponse(letters.letter_pdf(letter), content_type="application/pdf")
    record(request, AuditAction.DOWNLOADED, obj=letter, summary="Letter PDF")
    response["Content-Disposition"] = f'attachment; filename="{letters.pdf_filename(letter)}"'
    response["Cache-Control"] = "private, no-store"
    return response


@practice_required(Action.STATUS_LINKS)
@require_POST
def status_link_create(request, office_pk: int):
    """A new status link; its URL is shown on this response only (only a hash is kept)."""
    office = get_object_or_404(ReferringOffice, pk=office_pk)
    link, token = status_links.create_status_link(office, by=request.user)
    # A status link opens the office's patients to whoever holds it.
    record(
        request,
        AuditAction.CREATED,
        obj=link,
        summary=f"GP status link for referring office #{office.pk}",
    )
    response = render(
        request,
        "communications/status_page/link_created.html",
        {"office": office, "link": link, "url": status_links.status_url(token)},
    )
    response["Cache-Control"] = "private, no-store"
    return response


@practice_required(Action.STATUS_LINKS)
@require_POST
def status_link_revoke(request, pk: int):
    link = get_object_or_404(StatusLink.objects.select_related("office"), pk=pk)
    status_links.revoke(link, by=request.user)
    record(
        request,
        AuditAction.CHANGED,
        obj=link,
        summary=f"Revoked GP status link of referring office #{link.office_id}",
    )
    messages.success(request, f"Status link #{link.pk} for {link.office.name} revoked.")
    return redirect("office_detail", link.office_id)


urlpatterns = [
    path("letters/", letter_list, name="letter_list"),
    path("letters/overdue/", overdue_worklist, name="letters_overdue"),
    path("letters/<int:pk>/resend/", letter_resend, name="letter_resend"),
    path("letters/<int:pk>/pdf/", letter_download, name="letter_download"),
    path("referrers/<int:office_pk>/status-links/", status_link_create, name="status_link_create"),
    path("status-links/<int:pk>/revoke/", status_link_revoke, name="status_link_revoke"),
]

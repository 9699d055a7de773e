"""GP letter pages.

1. The print queue (letters feature): letters to offices that take fax or mail wait here
   for a person to print or fax them, who then marks them done. Everyone in the practice
   may work it (the front desk does, mostly).
2. The delivery log and the other letter pages: below, added by their own feature.

Services live in communications/letters.py; these views are thin.
"""

import datetime as dt

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from practices.access import Action
from practices.audit import AuditAction, record, record_many
from practices.permissions import practice_required
from referrals.choices import LetterChannel

from .. import letters
from ..models import Letter, LetterStatus

# --- 1. The print queue -------------------------------------------------------------------

PRINT_CHANNELS = (LetterChannel.FAX, LetterChannel.MAIL)
RECENTLY_DONE_DAYS = 14
RECENTLY_DONE_SHOWN = 20


def _queue_url(channel: str = "") -> str:
    url = reverse("print_queue")
    return f"{url}?channel={channel}" if channel in PRINT_CHANNELS else url


def _waiting():
    return Letter.objects.filter(status=LetterStatus.PRINT_QUEUED).select_related(
        "office", "referral__patient", "event"
    )


def _print_queue_context(request) -> dict:
    channel = request.GET.get("channel", "")
    if channel not in PRINT_CHANNELS:
        channel = ""
    waiting = _waiting().order_by("due_at", "id")
    rows = [row for row in waiting if not channel or row.channel == channel]
    counts = {c: sum(1 for row in waiting if row.channel == c) for c in PRINT_CHANNELS}
    done = (
        Letter.objects.filter(
            status=LetterStatus.PRINTED,
            sent_at__gte=timezone.now() - dt.timedelta(days=RECENTLY_DONE_DAYS),
        )
        .select_related("office", "referral__patient")
        .order_by("-sent_at", "-id")[:RECENTLY_DONE_SHOWN]
    )
    return {
        "rows": rows,
        "channel": channel,
        "total": len(waiting),
        "fax_count": counts[LetterChannel.FAX],
        "mail_count": counts[LetterChannel.MAIL],
        "done": list(done),
        "done_days": RECENTLY_DONE_DAYS,
        "today": timezone.localdate(),
    }


@practice_required(Action.VIEW_LETTERS)
@require_GET
def print_queue(request):
    """The page, or for htmx (tabs) only the list it swaps in place."""
    context = _print_queue_context(request)
    record(
        request,
        AuditAction.LISTED,
        object_type="letter",
        count=len(context["rows"]) + len(context["done"]),
        summary="Print queue",
    )
    template = (
        "communications/print_queue_list.html"
        if request.htmx
        else "communications/print_queue.html"
    )
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@practice_required(Action.VIEW_LETTERS)
@require_GET
def print_queue_pdf(request, pk: int):
    """A letter's PDF, to print or fax (rendered and stored on first use)."""
    letter = get_object_or_404(
        Letter.objects.select_related("practice", "referral__patient", "event"), pk=pk
    )
    response = HttpResponse(letters.letter_pdf(letter), content_type="application/pdf")
    record(request, AuditAction.DOWNLOADED, obj=letter, summary="Letter PDF from the print queue")
    response["Content-Disposition"] = f'inline; filename="{letters.pdf_filename(letter)}"'
    response["Cache-Control"] = "private, no-store"
    return response


@practice_required(Action.SEND_LETTERS)
@require_POST
def print_queue_mark(request, pk: int):
    letter = get_object_or_404(Letter.objects.select_related("referral"), pk=pk)
    patient_id = letter.referral.patient_id
    channel = request.POST.get("channel", "")
    try:
        letter = letters.mark_printed(letter, by=request.user)
    except ValidationError as exc:
        if request.htmx:
            return _row(request, letter, error=exc.messages[0])
        messages.error(request, exc.messages[0])
        return redirect(_queue_url(channel))
    # The service hands back the row it locked: the patient comes from the one we loaded.
    record(
        request,
        AuditAction.PRINTED,
        obj=letter,
        patient=patient_id,
        summary=_done_words(letter),
    )
    if request.htmx:
        response = _row(request, letter, just_done=True)
        response["HX-Trigger"] = "printQueueChanged"
        return response
    messages.success(request, f"{_done_words(letter)}: {letter} to {letter.recipient_name}.")
    return redirect(_queue_url(channel))


def _done_words(letter: Letter) -> str:
    return "Marked faxed" if letter.channel == LetterChannel.FAX else "Marked printed"


def _row(request, letter: Letter, **extra):
    letter = Letter.objects.select_related("office", "referral__patient", "event").get(pk=letter.pk)
    return render(
        request,
        "communications/print_queue_row.html",
        {"letter": letter, "today": timezone.localdate(), **extra},
    )


@practice_required(Action.SEND_LETTERS)
@require_POST
def print_queue_mark_many(request):
    """Mark the ticked letters done (a batch printed or faxed in one go)."""
    channel = request.POST.get("channel", "")
    ids = [int(value) for value in request.POST.getlist("letter") if value.isdigit()]
    # Another practice's id simply matches nothing in our scope.
    chosen = list(_waiting().filter(pk__in=ids))
    if not chosen:
        messages.error(request, "Tick the letters you printed or faxed first.")
        return redirect(_queue_url(channel))
    done = []
    for letter in chosen:
        try:
            letters.mark_printed(letter, by=request.user)
            done.append(letter)
        except ValidationError:
            pass  # marked by someone else meanwhile: already done
    # One entry per letter (each names its patient), written in one INSERT.
    record_many(request, AuditAction.PRINTED, done, summary=f"Marked {len(done)} sent together")
    done = len(done)
    messages.success(request, f"{done} letter{'s' if done != 1 else ''} marked as sent.")
    return redirect(_queue_url(channel))


@practice_required(Action.SEND_LETTERS)
@require_http_methods(["GET", "POST"])
def print_queue_skip(request, pk: int):
    """Decide a letter will not be printed or faxed, and say why (it stays resendable)."""
    letter = get_object_or_404(
        Letter.objects.select_related("office", "referral__patient"),
        pk=pk,
        status=LetterStatus.PRINT_QUEUED,
    )
    error = ""
    reason = ""
    if request.method == "POST":
        reason = request.POST.get("reason", "")
        try:
            letters.skip(letter, reason=reason, by=request.user)
        except ValidationError as exc:
            error = exc.message_dict.get("reason", exc.messages)[0]
        else:
            record(request, AuditAction.CHANGED, obj=letter, summary="Skipped printing")
            messages.success(request, f"Skipped: {letter} to {letter.recipient_name}.")
            return redirect(_queue_url(request.POST.get("channel", "")))
    if request.method == "GET":
        record(request, AuditAction.VIEWED, obj=letter)
    return render(
        request,
        "communications/print_queue_skip.html",
        {
            "letter": letter,
            "error": error,
            "reason": reason,
            "channel": request.GET.get("channel", ""),
        },
        status=422 if error else 200,
    )


print_queue_urlpatterns = [
    path("letters/print-queue/", print_queue, name="print_queue"),
    path("letters/print-queue/done/", print_queue_mark_many, name="print_queue_mark_many"),
    path("letters/print-queue/<int:pk>/pdf/", print_queue_pdf, name="print_queue_pdf"),
    path("letters/print-queue/<int:pk>/done/", print_queue_mark, name="print_queue_mark"),
    path("letters/print-queue/<int:pk>/skip/", print_queue_skip, name="print_queue_skip"),
]


# --- 2. Delivery log and other letter pages (their own feature) ---------------------------

urlpatterns = [*print_queue_urlpatterns]

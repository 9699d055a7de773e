"""Settings → Letters to referring dentists: the practice's wording of the five GP letters.

Practice administrators only. Each kind shows its saved wording or the shipped default;
the editor previews the letter live (htmx, debounced) on a real case of the practice, as
the GP would receive it, and as a PDF. Saving refuses a template the sandbox refuses,
with every reason listed.
"""

from functools import wraps

from csp.decorators import csp_update
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_POST

from practices.access import Action
from practices.audit import AuditAction, record
from practices.models import settings_for
from practices.permissions import practice_required
from referrals.models import MilestoneEvent, Referral

from ..default_letters import DEFAULT_LETTERS
from ..forms import LetterTemplateForm
from ..models import LetterKind, LetterTemplate
from ..rendering import MILESTONE_OF_KIND, letter_css_source, pdf_from_html, preview
from ..sandbox import LETTER_VARIABLES, TemplateRefused, validate_template
from ..templates_service import reset_template, save_template, template_for

CASE_CHOICES = 15  # recent cases offered for the preview


def _kind(kind: str) -> LetterKind:
    try:
        return LetterKind(kind)
    except ValueError:
        raise Http404("No such letter.") from None


def _case_label(referral: Referral, when=None) -> str:
    patient = referral.patient
    label = f"{patient.first_name} {patient.last_name} · {referral.get_case_type_display()}"
    return f"{label} · {when:%b %-d, %Y}" if when else label


def _preview_cases(kind: LetterKind) -> list[tuple[int, str]]:
    """Recent cases that reached the letter's milestone (the preview has something to say),
    newest first; or the newest cases when none has yet."""
    events = (
        MilestoneEvent.objects.filter(
            kind=MILESTONE_OF_KIND[kind], voided_at__isnull=True, referral__is_historical=False
        )
        .select_related("referral__patient")
        .order_by("-occurred_at", "-id")[: CASE_CHOICES * 2]
    )
    cases: dict[int, str] = {}
    for event in events:
        if event.referral_id not in cases:
            day = timezone.localtime(event.occurred_at).date()
            cases[event.referral_id] = _case_label(event.referral, day)
    if not cases:
        for referral in Referral.objects.select_related("patient")[:CASE_CHOICES]:
            cases[referral.pk] = _case_label(referral, referral.received_on)
    return list(cases.items())[:CASE_CHOICES]


def _chosen_case(value, choices: list[tuple[int, str]]) -> Referral | None:
    """The case asked for (any case of this practice; another practice's is a 404), or the
    first offered."""
    if value in (None, ""):
        if not choices:
            return None
        value = choices[0][0]
    try:
        pk = int(value)
    except (TypeError, ValueError):
        raise Http404("No such case.") from None
    return get_object_or_404(
        Referral.objects.select_related("patient", "referring_office", "referring_provider"),
        pk=pk,
    )


def _interval(practice) -> int:
    intervals = settings_for(practice).postop_intervals
    return intervals[0] if intervals else 7


def _preview(
    request, kind: LetterKind, subject: str, body: str, case: Referral | None, *, audit=True
):
    """(rendered letter or None, errors naming the subject or the body)."""
    errors = validate_template(subject, body)
    if errors or case is None:
        return None, errors
    if audit:
        # The preview is the case's letter as the GP would read it (and the case picker
        # names recent patients): one look at the case.
        record(request, AuditAction.VIEWED, obj=case, summary=f"Letter preview: {kind.label}")
    try:
        rendered = preview(
            request.practice, kind, subject, body, case, interval_days=_interval(request.practice)
        )
    except TemplateRefused as refused:
        return None, refused.errors
    return rendered, []


@practice_required(Action.LETTER_TEMPLATES)
def letter_templates(request):
    saved = {t.kind: t for t in LetterTemplate.objects.select_related("updated_by")}
    kinds = [
        {
            "kind": kind,
            "label": kind.label,
            "when": DEFAULT_LETTERS[kind].when,
            "saved": saved.get(kind.value),
        }
        for kind in LetterKind
    ]
    return render(request, "communications/editor/list.html", {"kinds": kinds})


def _letter_styles_allowed(view):
    """The preview is an <iframe srcdoc> whose letter carries its own <style>; a srcdoc
    document takes the policy of the page around it, so the editor's pages allow that one
    stylesheet by its hash (computed once, from the file)."""

    @wraps(view)
    def allowing(request, *args, **kwargs):
        return csp_update({"style-src": [letter_css_source()]})(view)(request, *args, **kwargs)

    return allowing


def _editor_context(request, kind, form, case, choices, rendered, errors):
    if case is not None and case.pk not in dict(choices):
        choices = [(case.pk, _case_label(case, case.received_on)), *choices]
    return {
        "kind": kind,
        "when": DEFAULT_LETTERS[kind].when,
        "form": form,
        "customised": LetterTemplate.objects.filter(kind=kind).exists(),
        "case": case,
        "cases": choices,
        "rendered": rendered,
        "preview_errors": errors,
        "variables": LETTER_VARIABLES.items(),
    }


@practice_required(Action.LETTER_TEMPLATES)
@_letter_styles_allowed
def letter_template_edit(request, kind):
    kind = _kind(kind)
    choices = _preview_cases(kind)
    if request.method == "POST":
        form = LetterTemplateForm(request.POST)
        case = _chosen_case(request.POST.get("case"), choices)
        if form.is_valid():
            save_template(
                request.practice,
                kind,
                form.cleaned_data["subject"],
                form.cleaned_data["body"],
                by=request.user,
            )
            messages.success(request, f"“{kind.label}” letter saved. New letters use it.")
            return redirect("letter_template_edit", kind=kind.value)
        subject, body = request.POST.get("subject", ""), request.POST.get("body", "")
        rendered, errors = _preview(request, kind, subject, body, case)
        context = _editor_context(request, kind, form, case, choices, rendered, errors)
        return render(request, "communications/editor/edit.html", context, status=400)
    subject, body = template_for(request.practice, kind)
    case = _chosen_case(request.GET.get("case"), choices)
    form = LetterTemplateForm(initial={"subject": subject, "body": body, "case": case and case.pk})
    rendered, errors = _preview(request, kind, subject, body, case)
    context = _editor_context(request, kind, form, case, choices, rendered, errors)
    return render(request, "communications/editor/edit.html", context)


@require_POST
@practice_required(Action.LETTER_TEMPLATES)
@_letter_styles_allowed
def letter_template_preview(request, kind):
    """The live preview of unsaved wording: a fragment for htmx, the editor page without."""
    kind = _kind(kind)
    choices = _preview_cases(kind)
    case = _chosen_case(request.POST.get("case"), choices)
    subject, body = request.POST.get("subject", ""), request.POST.get("body", "")
    rendered, errors = _preview(request, kind, subject, body, case)
    if request.htmx:
        response = render(
            request,
            "communications/editor/_preview.html",
            {"rendered": rendered, "preview_errors": errors, "case": case, "kind": kind},
        )
        response["Vary"] = "HX-Request"
        return response
    form = LetterTemplateForm(request.POST)
    form.is_valid()  # to show the field errors next to the fields too
    context = _editor_context(request, kind, form, case, choices, rendered, errors)
    return render(request, "communications/editor/edit.html", context)


@require_POST
@practice_required(Action.LETTER_TEMPLATES)
def letter_template_preview_pdf(request, kind):
    kind = _kind(kind)
    case = _chosen_case(request.POST.get("case"), _preview_cases(kind))
    subject, body = request.POST.get("subject", ""), request.POST.get("body", "")
    rendered, errors = _preview(request, kind, subject, body, case, audit=False)
    if rendered is None:
        messages.error(
            request,
            "No PDF: " + ("; ".join(errors) if errors else "there is no case to preview on."),
        )
        return redirect("letter_template_edit", kind=kind.value)
    response = HttpResponse(pdf_from_html(rendered.html), content_type="application/pdf")
    record(request, AuditAction.DOWNLOADED, obj=case, summary=f"Letter preview PDF: {kind.label}")
    response["Content-Disposition"] = f'attachment; filename="preview-{slugify(kind.label)}.pdf"'
    return response


@require_POST
@practice_required(Action.LETTER_TEMPLATES)
def letter_template_reset(request, kind):
    kind = _kind(kind)
    reset_template(request.practice, kind)
    messages.success(request, f"“{kind.label}” letter is back to the default wording.")
    return redirect("letter_template_edit", kind=kind.value)


urlpatterns = [
    path("settings/letters/", letter_templates, name="letter_templates"),
    path("settings/letters/<slug:kind>/", letter_template_edit, name="letter_template_edit"),
    path(
        "settings/letters/<slug:kind>/preview/",
        letter_template_preview,
        name="letter_template_preview",
    ),
    path(
        "settings/letters/<slug:kind>/preview.pdf",
        letter_template_preview_pdf,
        name="letter_template_preview_pdf",
    ),
    path(
        "settings/letters/<slug:kind>/reset/", letter_template_reset, name="letter_template_reset"
    ),
]

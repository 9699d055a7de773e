"""The case timeline (one referral's journey, with its legal next steps) and the
coordinator's worklist of open cases.

Who may record what comes from the role table (``practices.access``) through
``referrals.step_permissions``: anyone in the practice records the scheduling steps, the
clinical steps need ``RECORD_CLINICAL``. Undoing a step needs the right to record it. Production
figures are shown and asked for only where ``can_see_revenue`` allows.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods

from practices.access import Action, can
from practices.audit import AuditAction, record
from practices.permissions import can_see_revenue, practice_required

from .. import services, workflow, worklist
from ..choices import CLOSED_STATUSES
from ..choices import MilestoneKind as K
from ..choices import Status as S
from ..forms.timeline import STEP_FORMS, UndoForm, add_service_errors
from ..models import Referral
from ..step_permissions import action_for_step

# What a step's button says: a verb where the milestone's name is not one.
STEP_ACTIONS: dict[str, str] = {
    K.CONSULT_SCHEDULED: "Schedule consult",
    K.CONSULT_COMPLETED: "Consult completed",
    K.TREATMENT_ACCEPTED: "Treatment accepted",
    K.TREATMENT_DECLINED: "Treatment declined",
    K.SURGERY_SCHEDULED: "Schedule surgery",
    K.SURGERY_COMPLETED: "Surgery completed",
    K.POSTOP_VISIT: "Post-op visit",
    K.NO_SHOW: "No-show",
    K.CLOSED: "Close case",
    K.CANCELLED: "Cancel case",
}
RESCHEDULE_ACTIONS: dict[tuple[str, str], str] = {
    (S.CONSULT_SCHEDULED, K.CONSULT_SCHEDULED): "Reschedule consult",
    (S.SURGERY_SCHEDULED, K.SURGERY_SCHEDULED): "Reschedule surgery",
    (S.NO_SHOW, K.CONSULT_SCHEDULED): "Rebook consult",
    (S.NO_SHOW, K.SURGERY_SCHEDULED): "Rebook surgery",
}

# Status codes for plain (non-htmx) requests; htmx only swaps 2xx answers, so it gets 200.
CONFLICT = 409
UNPROCESSABLE = 422


def step_action(status: str, kind: str) -> str:
    return RESCHEDULE_ACTIONS.get((status, kind)) or STEP_ACTIONS[kind]


def may_record(request, kind: str) -> bool:
    action = action_for_step(kind)
    return action is not None and can(request, action)


def _get_referral(pk: int) -> Referral:
    # Inside the request's practice scope: another practice's case is a 404.
    return get_object_or_404(
        Referral.objects.select_related(
            "patient", "referring_office", "referring_provider", "created_by"
        ),
        pk=pk,
    )


def _case_context(request, referral: Referral, **extra) -> dict:
    events = list(referral.events.select_related("recorded_by", "voided_by").order_by("id"))
    allowed = services.allowed_next_steps(referral)
    steps = [
        {
            "kind": kind,
            "label": step_action(referral.status, kind),
            "permitted": may_record(request, kind),
        }
        for kind in allowed
    ]
    open_step = extra.get("open_step")
    live = [e for e in events if not e.is_void and e.kind != K.RECEIVED]
    last_step = live[-1] if live else None
    return {
        "referral": referral,
        "patient": referral.patient,
        "events": events,
        "attachments": list(referral.attachments.all()),
        "steps": steps,
        "offered_steps": [s for s in steps if s["permitted"]],
        "withheld_steps": [s for s in steps if not s["permitted"]],
        "last_step": last_step,
        "can_undo": last_step is not None and may_record(request, last_step.kind),
        "show_production": can_see_revenue(request),
        "is_finished": referral.status in CLOSED_STATUSES,
        "ages": worklist.case_ages(referral),
        "time_zone": timezone.get_current_timezone_name().replace("_", " "),
        "open_step_label": step_action(referral.status, open_step) if open_step else "",
        **extra,
    }


def _render_case(request, referral: Referral, *, status: int = 200, viewed: bool = True, **extra):
    """The whole page, or for htmx only the case block it swaps in place. Showing the
    case is a look at the patient's record (``viewed``), unless the request already
    recorded the change it made."""
    if viewed:
        record(request, AuditAction.VIEWED, obj=referral)
    context = _case_context(request, referral, **extra)
    if request.htmx:
        response = render(request, "referrals/timeline/_case.html", context)
    else:
        response = render(request, "referrals/timeline/detail.html", context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _refused(referral: Referral, kind: str, allowed: list[str]) -> str:
    return str(workflow.IllegalTransition(referral.status, kind, allowed))


@practice_required(Action.VIEW_CASES)
@require_GET
def referral_detail(request, pk: int):
    return _render_case(request, _get_referral(pk))


@practice_required(Action.RECORD_SCHEDULING)
@require_http_methods(["GET", "POST"])
def referral_step(request, pk: int, kind: str):
    """GET: the step's form (htmx: the next-step panel only). POST: record the step."""
    if kind not in K.values:
        raise Http404("No such step")
    referral = _get_referral(pk)
    allowed = services.allowed_next_steps(referral)
    if kind not in allowed:
        return _render_case(
            request, referral, status=CONFLICT, refusal=_refused(referral, kind, allowed)
        )
    if not may_record(request, kind):
        raise PermissionDenied("Clinical steps are recorded by clinical staff.")
    form_class = STEP_FORMS[kind]
    show_production = can_see_revenue(request)
    if request.method == "GET":
        form = form_class(show_production=show_production)
        if request.htmx:
            context = _case_context(request, referral, open_step=kind, form=form)
            response = render(request, "referrals/timeline/_next_step.html", context)
            patch_vary_headers(response, ["HX-Request"])
            return response
        return _render_case(request, referral, open_step=kind, form=form)

    form = form_class(request.POST, show_production=show_production)
    if form.is_valid():
        try:
            services.record_milestone(
                referral, kind, recorded_by=request.user, **form.milestone_kwargs()
            )
        except workflow.IllegalTransition as exc:
            # Someone else moved the case between the page load and this click.
            referral.refresh_from_db()
            return _render_case(request, referral, status=CONFLICT, refusal=str(exc))
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            record(request, AuditAction.CHANGED, obj=referral, summary=f"Step: {K(kind).label}")
            messages.success(request, f"Recorded: {K(kind).label}.")
            if request.htmx:
                referral.refresh_from_db()
                return _render_case(request, referral, viewed=False)
            return redirect("referral_detail", pk=referral.pk)
    return _render_case(request, referral, status=UNPROCESSABLE, open_step=kind, form=form)


@practice_required(Action.RECORD_SCHEDULING)
@require_http_methods(["GET", "POST"])
def referral_undo(request, pk: int):
    """Void the latest step (with a reason); it stays on the timeline, struck through."""
    referral = _get_referral(pk)
    context = _case_context(request, referral)
    last_step = context["last_step"]
    if last_step is None:
        messages.error(request, "There is no step to undo.")
        return _render_case(request, referral, status=CONFLICT)
    if not context["can_undo"]:
        raise PermissionDenied("Only staff who may record this step may undo it.")
    if request.method == "GET":
        form = UndoForm()
        if request.htmx:
            response = render(
                request, "referrals/timeline/_undo_form.html", {**context, "undo_form": form}
            )
            patch_vary_headers(response, ["HX-Request"])
            return response
        return _render_case(request, referral, undo_form=form)
    form = UndoForm(request.POST)
    if form.is_valid():
        try:
            voided = services.void_last_milestone(
                referral, by=request.user, reason=form.cleaned_data["void_reason"]
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            # Voiding is the timeline's delete: the step stays, struck through.
            record(
                request,
                AuditAction.DELETED,
                obj=voided,
                patient=referral.patient_id,
                summary=f"Undid step: {voided.get_kind_display()} (case #{referral.pk})",
            )
            messages.success(
                request, f"Undone: {voided.get_kind_display()}. It stays on the timeline."
            )
            if request.htmx:
                referral.refresh_from_db()
                return _render_case(request, referral, viewed=False)
            return redirect("referral_detail", pk=referral.pk)
    return _render_case(request, referral, status=UNPROCESSABLE, undo_form=form)


@practice_required(Action.VIEW_CASES)
@require_GET
def worklist_view(request):
    """Open cases by stage, with the coordinator's queues; one URL for page and fragment."""
    # The practice's own stuck-case thresholds (Settings → Referrals).
    limits = worklist.StuckThresholds.of(request.practice)
    form = worklist.WorklistForm(request.GET or None, limits)
    filters = form.filters
    today = timezone.localdate()
    cases = worklist.worklist_cases(filters, today, limits)
    page = Paginator(cases, worklist.PAGE_SIZE).get_page(request.GET.get("page"))
    rows = worklist.worklist_rows(page.object_list, today, limits)
    counts = worklist.worklist_counts(filters, today, limits)
    queue_labels = dict(worklist.Queue.choices(limits))
    # The search words may be a patient's name: the entry names the tab, never the words.
    record(
        request,
        AuditAction.LISTED,
        object_type="referral",
        count=len(rows),
        summary=f"Case worklist: {filters.get('stage') or worklist.OPEN}"
        + (f", queue {filters['queue']}" if filters.get("queue") else "")
        + (", searched" if filters.get("q") else ""),
    )
    context = {
        "form": form,
        "filters": filters,
        "counts": counts,
        "page": page,
        "rows": rows,
        "stage": filters.get("stage") or worklist.OPEN,
        "queue": filters.get("queue", ""),
        "queue_label": queue_labels.get(filters.get("queue", ""), ""),
        "stage_tabs": [(s, S(s).label, counts[s]) for s in worklist.STAGE_ORDER],
        "finished_tabs": [(s, S(s).label, counts[s]) for s in worklist.FINISHED_ORDER],
        "queues": [(q, label, counts[f"queue_{q}"]) for q, label in queue_labels.items()],
        "query_without_page": _params_without(request.GET, "page"),
        "filter_params": _params_without(request.GET, "page", "stage", "queue"),
        "is_filtered": any(k in filters for k in ("q", "office", "case_type", "urgency")),
    }
    template = (
        "referrals/timeline/_worklist.html" if request.htmx else "referrals/timeline/worklist.html"
    )
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _params_without(query, *names: str) -> str:
    params = query.copy()
    for name in names:
        params.pop(name, None)
    return params.urlencode()


urlpatterns = [
    path("cases/", worklist_view, name="worklist"),
    path("cases/<int:pk>/", referral_detail, name="referral_detail"),
    path("cases/<int:pk>/steps/<slug:kind>/", referral_step, name="referral_step"),
    path("cases/<int:pk>/undo/", referral_undo, name="referral_undo"),
]

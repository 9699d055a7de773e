"""Outreach: the plan (offices ranked by what a call could win back) and logging a contact
from an office's health page.

Everyone in the practice sees the plan (the front desk without money figures); logging a
contact needs ``Action.LOG_OUTREACH`` (the people who own GP relationships).
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from practices.access import Action, can
from practices.permissions import can_see_revenue, practice_required

from .. import queries
from ..forms import OutreachForm
from ..outreach import log_outreach
from .board import detail_context, get_office, outreach_context, outreach_required

PER_PAGE = 100


@practice_required(Action.VIEW_REFERRERS)
def outreach_list(request):
    as_of = queries.latest_as_of()
    everyone = request.GET.get("all") == "1"
    context = {
        "as_of": as_of,
        "everyone": everyone,
        "show_revenue": can_see_revenue(request),
        "can_log_outreach": can(request, Action.LOG_OUTREACH),
        "today": timezone.localdate(),
        "rows": [],
        "page": None,
    }
    if as_of is not None:
        plan = queries.outreach_plan(queries.current_snapshots(as_of), everyone=everyone)
        page = Paginator(plan, PER_PAGE).get_page(request.GET.get("page"))
        context.update({"page": page, "rows": list(page.object_list)})
    return render(request, "analytics/outreach/list.html", context)


@require_POST
@outreach_required
def referrer_log_outreach(request, office_id: int):
    office = get_office(office_id)
    form = OutreachForm(request.POST)
    logged = None
    if form.is_valid():
        try:
            logged = log_outreach(office, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
    if request.htmx:
        context = outreach_context(request, office, form=None if logged else form, logged=logged)
        return render(request, "analytics/detail/_outreach.html", context)
    if logged:
        messages.success(request, f"{logged.get_kind_display()} logged.")
        return redirect(reverse("referrer_detail", args=[office.pk]) + "#outreach")
    context = detail_context(request, office, outreach_form=form)
    return render(request, "analytics/detail/detail.html", context, status=400)


urlpatterns = [
    path("referrers/outreach/", outreach_list, name="outreach_list"),
    path(
        "referrers/health/<int:office_id>/outreach/",
        referrer_log_outreach,
        name="referrer_log_outreach",
    ),
]

"""Settings → Referrer health & alerts: status thresholds, both decline rules, who gets the
nightly digest and when it runs, the practice's case value. Practice administrators only.

Saving changes the rules from the next nightly run; "Recompute now" queues the practice's
recompute for its local today, so the board and the alerts follow at once.

The page is analytics': it queues analytics' "compute now" (recompute_now.py). The
settings it edits are the practice's (practices.models.PracticeSettings, through
practices.forms.ReferrerHealthSettingsForm), which analytics may import: imports run
downward only (docs/architecture.md).
"""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.views.decorators.http import require_POST

from practices.access import Action
from practices.forms import ReferrerHealthSettingsForm
from practices.models import settings_for
from practices.permissions import practice_required

from ..recompute_now import request_recompute


@practice_required(Action.SETTINGS)
def referrer_health_settings(request):
    practice = request.practice
    instance = settings_for(practice)
    if request.method == "POST":
        form = ReferrerHealthSettingsForm(request.POST, instance=instance, practice=practice)
        if form.is_valid():
            form.save()
            messages.success(
                request,
                "Referrer-health settings saved. They apply from the next nightly run, "
                "or now if you recompute.",
            )
            return redirect(reverse("referrer_health_settings") + "?saved=1")
    else:
        form = ReferrerHealthSettingsForm(instance=instance, practice=practice)
    context = {
        "form": form,
        "saved": request.GET.get("saved") == "1" and request.method == "GET",
        "today": timezone.localdate(),
        "recipients": instance.recipient_list,
    }
    return render(
        request,
        "analytics/settings/referrer_health.html",
        context,
        status=400 if form.errors else 200,
    )


@require_POST
@practice_required(Action.RECOMPUTE)
def referrer_health_recompute(request):
    # The practice's own date (the middleware has entered its time zone), not the server's.
    today = timezone.localdate()
    # A row first, then Celery: a broker that is down leaves it waiting for the sweeper.
    request_recompute(request.practice, today, request.user)
    messages.success(
        request,
        f"Recompute queued for {date_format(today, 'M j, Y')}. The referrer board and the "
        "alerts update in a minute or two; new alerts go out in one digest.",
    )
    return redirect("referrer_health_settings")


urlpatterns = [
    path("settings/referrer-health/", referrer_health_settings, name="referrer_health_settings"),
    path(
        "settings/referrer-health/recompute/",
        referrer_health_recompute,
        name="referrer_health_recompute",
    ),
]

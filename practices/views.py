from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.celery import app as celery_app

from .access import Action
from .middleware import SESSION_KEY, memberships_of
from .models import Practice
from .permissions import practice_required


def _safe_next(request, candidate: str | None) -> str | None:
    # Only paths on this site: a crafted ?next= must not bounce a user to another host.
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return None


@login_required
def pick_practice(request):
    """Choose the practice to work in (several memberships), or switch (header form)."""
    memberships = memberships_of(request.user)
    if request.method == "POST":
        wanted = request.POST.get("practice", "")
        allowed = {str(m.practice_id) for m in memberships}
        if wanted not in allowed and not (
            request.user.is_superuser
            and wanted.isdigit()
            and Practice.objects.filter(pk=wanted).exists()
        ):
            # Not "forbidden": whether another practice exists is none of the user's business.
            raise Http404("No such practice")
        request.session[SESSION_KEY] = int(wanted)
        return redirect(_safe_next(request, request.POST.get("next")) or "home")
    practices = (
        Practice.objects.all() if request.user.is_superuser else [m.practice for m in memberships]
    )
    context = {"practices": practices, "next": _safe_next(request, request.GET.get("next")) or ""}
    return render(request, "practices/pick_practice.html", context)


SECTIONS = {
    "intake": "Intake",
    "cases": "Cases",
    "referrers": "Referrers",
    "alerts": "Alerts",
    "reports": "Reports",
    "settings": "Settings",
}


@practice_required(Action.HOME)
def coming_soon(request, section):
    if section not in SECTIONS:
        raise Http404("No such section")
    return render(request, "practices/coming_soon.html", {"section": SECTIONS[section]})


@never_cache
@require_GET
def healthz(request):
    """Database and broker reachability, for load balancers and docker-compose."""
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        with celery_app.connection_for_write() as conn:
            # One quick try: a load balancer wants an answer, not a retry loop.
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
        checks["broker"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["broker"] = f"error: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "error", **checks}, status=200 if healthy else 503
    )

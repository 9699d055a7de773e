"""Settings → API keys: practice administrators create keys (shown once) and revoke them."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from .access import Action, can
from .api_keys import create_api_key, revoke_api_key
from .models import ApiKey
from .permissions import practice_required


@practice_required(Action.HOME)
def settings_home(request):
    """The Settings page. Everyone may open it; the API keys section is for admins."""
    is_admin = can(request, Action.API_KEYS)
    context = {
        "can_manage_keys": is_admin,
        "active_key_count": (
            ApiKey.objects.filter(revoked_at__isnull=True).count() if is_admin else None
        ),
    }
    return render(request, "practices/api_keys_settings.html", context)


# never_cache: the response that shows a new key must not be kept by a browser or proxy.
@never_cache
@practice_required(Action.API_KEYS)
def api_keys(request):
    created = None
    errors: dict[str, list[str]] = {}
    name = ""
    if request.method == "POST":
        name = request.POST.get("name", "")
        try:
            created = create_api_key(request.practice, name, created_by=request.user)
        except ValidationError as exc:
            errors = exc.message_dict
        else:
            name = ""
    # The new key is rendered in this response only (no redirect that would have to
    # carry it through the session): reloading the page never shows it again.
    context = {
        "keys": ApiKey.objects.select_related("created_by"),
        "created": created,
        "errors": errors,
        "name": name,
        "name_max_length": ApiKey._meta.get_field("name").max_length,
    }
    return render(request, "practices/api_keys.html", context, status=400 if errors else 200)


@require_POST
@practice_required(Action.API_KEYS)
def api_key_revoke(request, key_id: int):
    api_key = get_object_or_404(ApiKey, pk=key_id)
    was_active = api_key.is_active
    revoke_api_key(api_key, by=request.user)
    if was_active:
        messages.success(
            request, f"Key “{api_key.name}” ({api_key.prefix}…) is revoked; it no longer works."
        )
    return redirect("api_keys")


urlpatterns = [
    path("settings/", settings_home, name="settings_home"),
    path("settings/api-keys/", api_keys, name="api_keys"),
    path("settings/api-keys/<int:key_id>/revoke/", api_key_revoke, name="api_key_revoke"),
]

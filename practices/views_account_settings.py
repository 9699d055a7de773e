"""Settings → Sign-in security: the practice's two-factor policy. Administrators only."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import path

from .access import Action
from .forms import AccountSecuritySettingsForm
from .models import settings_for
from .permissions import practice_required


@practice_required(Action.SETTINGS)
def security_settings(request):
    instance = settings_for(request.practice)
    if request.method == "POST":
        form = AccountSecuritySettingsForm(request.POST, instance=instance)
        if form.is_valid():
            form.save()
            messages.success(
                request,
                f"Two-factor is now required for: "
                f"{instance.get_two_factor_required_for_display().lower()}.",
            )
            return redirect("security_settings")
    else:
        form = AccountSecuritySettingsForm(instance=instance)
    return render(
        request,
        "practices/settings_security.html",
        {"form": form},
        status=400 if form.errors else 200,
    )


urlpatterns = [
    path("settings/security/", security_settings, name="security_settings"),
]

"""Settings → Referrals: the online form's promise to the GP (business days until we contact
the patient, by urgency) and the worklist's stuck-case thresholds. Administrators only."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import path

from .access import Action
from .forms_referral_settings import ReferralSettingsForm
from .models import settings_for
from .permissions import practice_required


@practice_required(Action.SETTINGS)
def referral_settings(request):
    instance = settings_for(request.practice)
    if request.method == "POST":
        form = ReferralSettingsForm(request.POST, instance=instance)
        if form.is_valid():
            form.save()
            messages.success(
                request,
                "Referral settings saved: the online form and the worklist use them now.",
            )
            return redirect("referral_settings")
    else:
        form = ReferralSettingsForm(instance=instance)
    return render(
        request,
        "practices/settings_referrals.html",
        {"form": form},
        status=400 if form.errors else 200,
    )


urlpatterns = [
    path("settings/referrals/", referral_settings, name="referral_settings"),
]

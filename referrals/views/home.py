"""The home page: the practice's referring offices and this month's referrals at a glance.

It lives with the referral domain because the figures it shows are the referral domain's
rows (imports run downward only: practices sits below referrals, docs/architecture.md).
"""

from django.shortcuts import render
from django.urls import path
from django.utils import timezone

from practices.access import Action
from practices.permissions import practice_required

from ..models import Referral, ReferringOffice


@practice_required(Action.HOME)
def home(request):
    today = timezone.localdate()
    month_start = today.replace(day=1)
    context = {
        "office_count": ReferringOffice.objects.filter(is_archived=False).count(),
        "referrals_this_month": Referral.objects.filter(received_on__gte=month_start).count(),
        "month_start": month_start,
    }
    return render(request, "referrals/home.html", context)


urlpatterns = [
    path("", home, name="home"),
]

"""GET /api/v1/referrer-scores/: every referring office's health as of a date, for a PMS or
a BI tool. Mounted by config/urls.py under /api/v1/, with the API's key authentication and scope
(referrals.api.base.PracticeApiMixin)."""

import django_filters as filters
from django.db.models import Max
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers

from practices.access import Action
from referrals.api.base import PracticeApiMixin
from referrals.api.serializers import MoneyFieldsMixin

from .choices import ReferrerStatus
from .models import ReferrerSnapshot


class ReferrerScoreSerializer(MoneyFieldsMixin, serializers.ModelSerializer):
    money_fields = ("revenue_at_risk",)
    office = serializers.IntegerField(source="office_id", read_only=True, help_text="Office id.")
    office_name = serializers.CharField(source="office.name", read_only=True)
    monthly_counts = serializers.ListField(
        child=serializers.IntegerField(),
        read_only=True,
        help_text="Referrals in each of the last 24 full months, oldest first, then the "
        "current month so far.",
    )

    class Meta:
        model = ReferrerSnapshot
        fields = [
            "office",
            "office_name",
            "as_of",
            "status",
            "count_30",
            "count_60",
            "count_90",
            "last_referral_on",
            "monthly_counts",
            "baseline_rate",
            "recent_rate",
            "same_month_last_year",
            "rolling_12",
            "prior_12",
            "drop_months",
            "revenue_at_risk",
            "priority",
            "reason",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "status": {"help_text": "new, active, declining, inactive, lost or prospect."},
            "as_of": {"help_text": "The day the scores were computed for."},
            "count_30": {"help_text": "Referrals in the 30 days up to as_of."},
            "count_60": {"help_text": "Referrals in the 60 days up to as_of."},
            "count_90": {"help_text": "Referrals in the 90 days up to as_of."},
            "same_month_last_year": {
                "help_text": "Referrals in as_of's calendar month a year earlier."
            },
            "rolling_12": {"help_text": "Referrals in the last 12 full months."},
            "prior_12": {"help_text": "Referrals in the 12 full months before those."},
            "drop_months": {"help_text": "Months since the drop began (0: no drop)."},
            "revenue_at_risk": {
                "help_text": "(baseline_rate - recent_rate) x case value x drop_months."
            },
            "priority": {"help_text": "Outreach priority: higher first."},
            "reason": {"help_text": "Why the office has its status, in one sentence."},
        }


class ReferrerScoreFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=ReferrerStatus.choices, help_text="Only this status.")
    as_of = filters.DateFilter(
        help_text="The day (YYYY-MM-DD) of the scores; the latest computed day by default. "
        "A day the scores were not computed for answers an empty list."
    )

    class Meta:
        model = ReferrerSnapshot
        fields = ["status", "as_of"]


class ReferrerScoreList(PracticeApiMixin, generics.ListAPIView):
    # Offices by outreach priority (highest first), then by name.
    required_actions = {"get": Action.VIEW_REFERRERS}
    queryset = ReferrerSnapshot.objects.none()
    serializer_class = ReferrerScoreSerializer
    filterset_class = ReferrerScoreFilter

    def get_queryset(self):
        snapshots = ReferrerSnapshot.objects.select_related("office").order_by(
            "-priority", "office__name", "office_id"
        )
        if "as_of" not in self.request.query_params:
            latest = ReferrerSnapshot.objects.aggregate(day=Max("as_of"))["day"]
            snapshots = snapshots.filter(as_of=latest)
        return snapshots

    @extend_schema(
        summary="List referrer scores",
        description="Each referring office's health as of one day: its status, referral "
        "counts, monthly series, rates before and since a drop, revenue at risk and outreach "
        "priority, with the reason in words. Computed nightly; by default the latest day.",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


urlpatterns = [path("", ReferrerScoreList.as_view(), name="api-referrer-scores")]

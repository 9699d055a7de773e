"""Admin for the referral domain, for support staff working inside one practice.

What the app's flows own stays theirs: a referral's status follows from its milestone
events (``referrals.workflow``), so status, source and events are read-only here;
milestones and office history are append-only; imports and online submissions are
records of what happened. Support can find anything, fix contact details and case
descriptions, and remove a mistaken row.
"""

from django import forms
from django.contrib import admin

from practices.admin_base import (
    ReadOnlyInline,
    ReadOnlyTenantAdmin,
    TenantAdmin,
    TenantModelForm,
    TenantTabularInline,
)

from .models import (
    ImportJob,
    MilestoneEvent,
    OfficeEvent,
    OnlineReferral,
    Patient,
    Referral,
    ReferringOffice,
    ReferringProvider,
)
from .signals import office_activity_changed


def _unique_in_practice(form, field: str, message: str):
    # The database constraint (practice, field) only says "constraint violated": say which
    # field and why, like the app's own forms do.
    value = form.cleaned_data.get(field)
    if value:
        clash = form._meta.model.objects.filter(**{field: value}).exclude(pk=form.instance.pk)
        if clash.exists():
            raise forms.ValidationError(message)
    return value


class OfficeForm(TenantModelForm):
    def clean_external_id(self):
        return _unique_in_practice(
            self, "external_id", "Another office of this practice has this PMS id."
        )


class PatientForm(TenantModelForm):
    def clean_chart_number(self):
        return _unique_in_practice(
            self, "chart_number", "Another patient of this practice has this chart number."
        )


class ProviderInline(TenantTabularInline):
    model = ReferringProvider
    fields = ["first_name", "last_name", "npi", "email", "is_archived"]
    show_change_link = True


@admin.register(ReferringOffice)
class ReferringOfficeAdmin(TenantAdmin):
    list_display = ["name", "city", "zip_code", "phone", "preferred_channel", "is_archived"]
    list_filter = ["is_archived", "preferred_channel"]
    search_fields = ["name", "zip_code", "phone", "fax", "email", "external_id"]
    fields = [
        "name",
        ("address", "city", "state", "zip_code"),
        ("phone", "fax", "email"),
        "preferred_channel",
        "external_id",
        "is_archived",
        "first_referral_on",
    ]
    # Archiving writes the office's history and is done on the Referrers page.
    readonly_fields = ["is_archived", "first_referral_on"]
    inlines = [ProviderInline]
    form = OfficeForm


@admin.register(ReferringProvider)
class ReferringProviderAdmin(TenantAdmin):
    list_display = ["__str__", "office", "npi", "email", "is_archived"]
    list_filter = ["is_archived"]
    search_fields = ["first_name", "last_name", "npi", "email", "office__name"]
    list_select_related = ["office"]
    fields = ["office", ("first_name", "last_name"), "npi", "email", "is_archived"]
    autocomplete_fields = ["office"]


@admin.register(Patient)
class PatientAdmin(TenantAdmin):
    audit_patient_data = True
    list_display = ["last_name", "first_name", "chart_number", "date_of_birth", "phone"]
    search_fields = ["chart_number", "last_name", "first_name", "email", "phone"]
    fields = [("first_name", "last_name"), "date_of_birth", "chart_number", ("phone", "email")]
    form = PatientForm


class MilestoneInline(ReadOnlyInline):
    model = MilestoneEvent
    fields = ["kind", "occurred_at", "scheduled_for", "recorded_by", "note", "voided_at"]
    readonly_fields = fields
    ordering = ["occurred_at", "id"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("recorded_by")


@admin.register(Referral)
class ReferralAdmin(TenantAdmin):
    audit_patient_data = True
    list_display = [
        "__str__",
        "received_on",
        "patient",
        "referring_office",
        "source_type",
        "case_type",
        "status",
    ]
    list_filter = [
        "status",
        "source_type",
        "case_type",
        "urgency",
        ("received_on", admin.DateFieldListFilter),
        "is_historical",
    ]
    search_fields = [
        "=id",
        "patient__chart_number",
        "patient__last_name",
        "patient__first_name",
        "referring_office__name",
        "referring_provider__last_name",
    ]
    date_hierarchy = "received_on"
    list_select_related = ["patient", "referring_office"]
    fields = [
        ("patient", "received_on"),
        ("source_type", "referring_office", "referring_provider"),
        ("case_type", "urgency"),
        "reason",
        ("status", "status_changed_at"),
        ("created_by", "is_historical"),
    ]
    # The journey belongs to the state machine and intake's source rule: record steps and
    # corrections on the case page, where letters and analytics follow.
    readonly_fields = [
        "patient",
        "received_on",
        "source_type",
        "referring_office",
        "referring_provider",
        "status",
        "status_changed_at",
        "created_by",
        "is_historical",
    ]
    inlines = [MilestoneInline]

    def has_add_permission(self, request):
        # New referrals go through intake (create_referral), which enforces the source rule.
        return False

    def delete_model(self, request, obj):
        self._deleted([obj])
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        self._deleted(list(queryset))
        super().delete_queryset(request, queryset)

    def _deleted(self, referrals):
        # Counts, scores and rollups read these offices' referrals: tell analytics.
        office_ids = sorted({r.referring_office_id for r in referrals if r.referring_office_id})
        if office_ids:
            office_activity_changed.send(
                sender=Referral, practice_id=referrals[0].practice_id, office_ids=office_ids
            )


@admin.register(MilestoneEvent)
class MilestoneEventAdmin(ReadOnlyTenantAdmin):
    audit_patient_data = True
    list_display = ["referral", "kind", "occurred_at", "scheduled_for", "recorded_by", "voided_at"]
    list_filter = ["kind", ("voided_at", admin.EmptyFieldListFilter)]
    search_fields = ["=referral__id"]
    date_hierarchy = "occurred_at"
    list_select_related = ["referral", "recorded_by"]


@admin.register(OfficeEvent)
class OfficeEventAdmin(ReadOnlyTenantAdmin):
    list_display = ["office", "kind", "occurred_on", "by"]
    list_filter = ["kind"]
    search_fields = ["office__name"]
    list_select_related = ["office", "by"]


@admin.register(OnlineReferral)
class OnlineReferralAdmin(ReadOnlyTenantAdmin):
    audit_patient_data = True
    list_display = [
        "__str__",
        "created_at",
        "office_name",
        "doctor_last_name",
        "case_type",
        "status",
    ]
    list_filter = ["status", "case_type", "urgency"]
    search_fields = [
        "office_name",
        "office_zip",
        "doctor_last_name",
        "patient_last_name",
        "patient_first_name",
    ]
    date_hierarchy = "created_at"


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyTenantAdmin):
    list_display = ["__str__", "created_at", "uploaded_by", "mode", "status", "processed_rows"]
    list_filter = ["status", "mode"]
    search_fields = ["original_name"]
    exclude = ["file"]
    list_select_related = ["uploaded_by"]

"""Django admin for practice-owned models, for support staff.

The middleware has already entered the scope of the practice the staff member works in
(chosen on /practice/), so every admin query is filtered by the scoped managers. This
module adds what the scope alone does not give:

* a page for another practice's object is a 404, not Django's "perhaps it was deleted"
  redirect to the admin index (which would confirm nothing, but hides a wrong-tenant
  access behind a 302 that tests and monitoring would not notice);
* ``practice`` is never a form field: new rows get the current practice on save, and
  unique constraints that begin with ``practice`` are still validated with a clear message;
* with no practice chosen the admin lists nothing and sends the user to the picker,
  instead of raising a scope error.
"""

from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse

from .audit import AuditAction, record, record_many

TENANT_FIELD = "practice"


class TenantModelForm(forms.ModelForm):
    """A model form whose instance belongs to ``tenant`` (set by the admin per request).

    ``practice`` is not a form field, so Django would skip every unique constraint that
    names it; putting the practice on the instance first and validating it keeps
    ``(practice, external_id)`` style constraints a form error instead of an IntegrityError.
    """

    tenant = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.tenant is not None and self.instance.practice_id is None:
            self.instance.practice = self.tenant

    def _get_validation_exclusions(self):
        exclusions = super()._get_validation_exclusions()
        exclusions.discard(TENANT_FIELD)
        return exclusions


def _bind_tenant(form_class, practice):
    return type(form_class.__name__, (form_class,), {"tenant": practice})


def _practice_of(request):
    return getattr(request, "practice", None)


class TenantAdminMixin:
    """Shared by the model admin and its inlines."""

    form = TenantModelForm

    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or [])
        if TENANT_FIELD not in exclude:
            exclude.append(TENANT_FIELD)
        return exclude

    def get_queryset(self, request):
        if _practice_of(request) is None:
            # No scope is active: an empty list, never a ScopeError (and never all tenants).
            return self.model._default_manager.none()
        return super().get_queryset(request)


class TenantAdmin(TenantAdminMixin, admin.ModelAdmin):
    """ModelAdmin for a model with a ``practice`` foreign key and a scoped manager.

    With ``audit_patient_data`` the admin's looks and changes go to the audit log like the
    app's own pages: support staff are actors like any other.
    """

    audit_patient_data = False

    def get_form(self, request, obj=None, **kwargs):
        form_class = super().get_form(request, obj, **kwargs)
        return _bind_tenant(form_class, _practice_of(request))

    def get_formsets_with_inlines(self, request, obj=None):
        for formset, inline in super().get_formsets_with_inlines(request, obj):
            if isinstance(inline, TenantAdminMixin):
                formset.form = _bind_tenant(formset.form, _practice_of(request))
            yield formset, inline

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            # Another practice's row is filtered out by the scope: same answer as a missing
            # one, a 404 that says nothing about whether it exists elsewhere.
            raise Http404(f"No {self.opts.verbose_name} with id “{object_id}” in this practice.")
        if self.audit_patient_data and request.method == "GET":
            record(request, AuditAction.VIEWED, obj=obj, summary="Django admin")
        return obj

    def save_model(self, request, obj, form, change):
        if not change:
            obj.practice = _practice_of(request)
        super().save_model(request, obj, form, change)
        if self.audit_patient_data:
            action = AuditAction.CHANGED if change else AuditAction.CREATED
            record(request, action, obj=obj, summary="Django admin")

    def delete_model(self, request, obj):
        if self.audit_patient_data:
            record(request, AuditAction.DELETED, obj=obj, summary="Django admin")
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        if self.audit_patient_data:
            record_many(request, AuditAction.DELETED, list(queryset), summary="Django admin")
        super().delete_queryset(request, queryset)

    def save_formset(self, request, form, formset, change):
        for inline_form in formset.forms:
            instance = inline_form.instance
            if hasattr(instance, "practice_id") and instance.practice_id is None:
                instance.practice = _practice_of(request)
        super().save_formset(request, form, formset, change)

    def _pick_practice_first(self, request):
        messages.info(request, "Choose the practice you are working in first.")
        query = urlencode({"next": request.get_full_path()})
        return redirect(f"{reverse('pick_practice')}?{query}")

    def changelist_view(self, request, extra_context=None):
        if _practice_of(request) is None:
            return self._pick_practice_first(request)
        response = super().changelist_view(request, extra_context)
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        if self.audit_patient_data and changelist is not None:
            record(
                request,
                AuditAction.LISTED,
                object_type=self.opts.model_name,
                count=len(changelist.result_list),
                summary="Django admin",
            )
        return response

    def add_view(self, request, form_url="", extra_context=None):
        if _practice_of(request) is None:
            return self._pick_practice_first(request)
        return super().add_view(request, form_url, extra_context)


class TenantTabularInline(TenantAdminMixin, admin.TabularInline):
    extra = 0


class ReadOnlyInline(admin.TabularInline):
    """An append-only history shown under its parent: visible, never edited here."""

    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False

    def get_queryset(self, request):
        if _practice_of(request) is None:
            return self.model._default_manager.none()
        return super().get_queryset(request)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyTenantAdmin(TenantAdmin):
    """For append-only tables (milestones, office history) and records written by the
    app's own flows (imports, online submissions): support can look, not rewrite."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

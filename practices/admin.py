"""Admin for practices, people and API keys.

Support staff (``is_staff``) work inside one practice at a time, like everyone else.
Platform operators (``is_superuser``) also see every practice and every user, and are the
only ones who can grant staff or superuser rights: a practice's staff member must never
be able to reach another practice through a shared user account.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.http import Http404
from django_scopes import scopes_disabled

from .admin_base import TenantAdmin, TenantModelForm
from .api_keys import revoke_api_key
from .models import ApiKey, Membership, Practice, Role, User
from .onboarding import ensure_user

admin.site.site_header = "OMS Referrals support"
admin.site.site_title = "OMS Referrals support"
admin.site.index_title = "Records of the current practice"


class OperatorAcrossTenantsMixin:
    """A platform operator's pages about a tenant itself or an account that spans tenants
    run across tenants on purpose: deleting a practice cascades into every tenant table,
    deleting a user reaches their rows in every practice, and a user's page lists their
    memberships everywhere. Row-level security would hide those rows from the one practice
    the operator happens to be working in. Staff who are not operators stay in their
    practice's scope. The response is rendered inside the block (a TemplateResponse would
    otherwise evaluate its querysets after it)."""

    def _across_tenants(self, request, view, *args, **kwargs):
        if not request.user.is_superuser:
            return view(request, *args, **kwargs)
        with scopes_disabled():
            response = view(request, *args, **kwargs)
            if hasattr(response, "render") and not response.is_rendered:
                response.render()
            return response

    def changeform_view(self, request, *args, **kwargs):
        return self._across_tenants(request, super().changeform_view, *args, **kwargs)

    def changelist_view(self, request, *args, **kwargs):
        # The list's bulk "delete selected" action.
        return self._across_tenants(request, super().changelist_view, *args, **kwargs)

    def delete_view(self, request, *args, **kwargs):
        return self._across_tenants(request, super().delete_view, *args, **kwargs)


@admin.register(Practice)
class PracticeAdmin(OperatorAcrossTenantsMixin, admin.ModelAdmin):
    list_display = ["name", "slug", "time_zone", "default_case_value", "created_at"]
    search_fields = ["name", "slug"]
    readonly_fields = ["created_at"]

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        practice = getattr(request, "practice", None)
        return qs.filter(pk=practice.pk) if practice else qs.none()

    def get_readonly_fields(self, request, obj=None):
        # The slug is the practice's public id (online referral form URL): only operators
        # change it, knowing the old links break.
        fields = list(super().get_readonly_fields(request, obj))
        return fields if request.user.is_superuser else [*fields, "slug"]

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404(f"No practice with id “{object_id}”.")
        return obj


class MembershipAddForm(TenantModelForm):
    """Add a person by email: an existing account is reused, a new one gets a one-time
    password shown once to the staff member."""

    email = forms.EmailField(help_text="Their login. A new account is created if needed.")

    class Meta:
        model = Membership
        fields = ["role", "is_surgeon"]

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        if Membership.objects.filter(practice=self.tenant, user__email=email).exists():
            raise forms.ValidationError(f"{email} is already a member of this practice.")
        return email


@admin.register(Membership)
class MembershipAdmin(TenantAdmin):
    list_display = ["user", "role", "is_surgeon", "created_at"]
    list_filter = ["role", "is_surgeon"]
    search_fields = ["user__email", "user__first_name", "user__last_name"]
    list_select_related = ["user"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = MembershipAddForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        return ["email", "role", "is_surgeon"] if obj is None else ["user", "role", "is_surgeon"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["user"]

    def get_changeform_initial_data(self, request):
        return {"role": Role.FRONT_DESK}

    def save_model(self, request, obj, form, change):
        if not change:
            obj.user, password = ensure_user(form.cleaned_data["email"])
            if password:
                messages.warning(
                    request,
                    f"Created the account {obj.user.email}. One-time password: {password} "
                    "(shown only now; they change it at /account/password/ after logging in).",
                )
        super().save_model(request, obj, form, change)


@admin.register(ApiKey)
class ApiKeyAdmin(TenantAdmin):
    """Keys are created in the practice's settings, where the key is shown once. Here
    support can see which keys exist and revoke one; the hash is never displayed."""

    list_display = ["name", "prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix"]
    fields = ["name", "prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke the selected keys", permissions=["change"])
    def revoke(self, request, queryset):
        active = list(queryset.filter(revoked_at__isnull=True))
        for key in active:
            revoke_api_key(key, by=request.user)
        self.message_user(request, f"Revoked {len(active)} key(s).")


class EmailUserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ["email"]


class EmailUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


class MembershipInline(admin.TabularInline):
    """Read-only list of the user's practices, for operators."""

    model = Membership
    fields = ["practice", "role", "is_surgeon"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        # Operators look across practices on purpose; the inline is shown to them only,
        # on the user's page, which runs across tenants (OperatorAcrossTenantsMixin).
        with scopes_disabled():
            return Membership.objects.all().select_related("practice")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(User)
class UserAdmin(OperatorAcrossTenantsMixin, DjangoUserAdmin):
    form = EmailUserChangeForm
    add_form = EmailUserCreationForm
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "is_active", "last_login"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Name", {"fields": ["first_name", "last_name"]}),
        (
            "Access",
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (
            None,
            {"classes": ["wide"], "fields": ["email", "usable_password", "password1", "password2"]},
        )
    ]
    readonly_fields = ["last_login", "date_joined"]

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        practice = getattr(request, "practice", None)
        if practice is None:
            return qs.none()
        return qs.filter(memberships__practice=practice).distinct()

    def get_inlines(self, request, obj):
        return [MembershipInline] if request.user.is_superuser and obj is not None else []

    # A user account can span practices: only operators may create, change or delete
    # accounts. Practice staff see their colleagues and manage roles under Memberships.
    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404(f"No user with id “{object_id}” here.")
        return obj

"""Forms of the Team page and of accepting an invitation."""

from django import forms
from django.contrib.auth import password_validation

from .models import PracticeSettings, Role


class InviteForm(forms.Form):
    email = forms.EmailField(
        label="Email",
        widget=forms.EmailInput(attrs={"autocomplete": "off", "placeholder": "name@practice.com"}),
    )
    role = forms.ChoiceField(label="Role", choices=Role.choices, initial=Role.FRONT_DESK)
    is_surgeon = forms.BooleanField(label="Surgeon (signs letters)", required=False)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=Role.choices)
    is_surgeon = forms.BooleanField(label="Surgeon", required=False)


class SessionSettingsForm(forms.ModelForm):
    idle_logout_minutes = forms.IntegerField(
        label="Log out after (minutes without activity)",
        min_value=2,
        max_value=480,
        error_messages={
            "min_value": "Choose between 2 and 480 minutes.",
            "max_value": "Choose between 2 and 480 minutes.",
        },
        help_text="Between 2 and 480. Everyone gets a warning a minute before, with a button "
        "to stay logged in.",
    )

    class Meta:
        model = PracticeSettings
        fields = ["idle_logout_minutes"]

    def save(self, commit: bool = True) -> PracticeSettings:
        # Only this column: another settings form saved at the same moment keeps its change.
        settings = super().save(commit=False)
        settings.save(update_fields=self.Meta.fields)
        return settings


class AcceptInvitationForm(forms.Form):
    """A new person's name and password. The password is checked by Django's validators
    against the user it will belong to (so it may not resemble their email)."""

    first_name = forms.CharField(label="First name", max_length=150)
    last_name = forms.CharField(label="Last name", max_length=150)
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        data = super().clean()
        first, second = data.get("password1"), data.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The two passwords differ.")
        return data

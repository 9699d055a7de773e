from allauth.account import views as account_views
from django.urls import path

from . import (
    views,
    views_account_settings,
    views_api_keys,
    views_idle,
    views_invitations,
    views_referral_settings,
    views_team,
)

urlpatterns = [
    # The home page ("", name "home") is the referral domain's: referrals/views/home.py.
    # allauth's views under the names the app always used (allauth's own URLs live under
    # /accounts/: two-factor, password reset, reauthentication).
    path("login/", account_views.login, name="login"),
    path("logout/", account_views.logout, name="logout"),
    path("practice/", views.pick_practice, name="pick_practice"),
    path("account/password/", account_views.password_change, name="password_change"),
    path("soon/<slug:section>/", views.coming_soon, name="coming_soon"),
    *views_api_keys.urlpatterns,
    *views_account_settings.urlpatterns,
    *views_referral_settings.urlpatterns,
    *views_team.urlpatterns,
    *views_invitations.urlpatterns,
    *views_idle.urlpatterns,
]

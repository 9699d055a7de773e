from django.urls import path

from . import views, views_api_keys, views_idle, views_invitations, views_settings, views_team

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("practice/", views.pick_practice, name="pick_practice"),
    path("account/password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("soon/<slug:section>/", views.coming_soon, name="coming_soon"),
    *views_api_keys.urlpatterns,
    *views_settings.urlpatterns,
    *views_team.urlpatterns,
    *views_invitations.urlpatterns,
    *views_idle.urlpatterns,
]

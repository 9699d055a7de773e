"""The site's URLs plus two routes the matrix does not cover, for the test that proves a
new route without coverage fails it (tests/security/test_route_matrix.py)."""

from django.http import HttpResponse
from django.urls import path

from config.urls import urlpatterns as site_urlpatterns
from practices.access import Action
from practices.permissions import practice_required


def unprotected(request, pk):
    return HttpResponse("anyone's data")


def view_without_action(request):
    return HttpResponse("no action named")


@practice_required(Action.VIEW_CASES)
def protected_but_not_listed(request, pk):
    return HttpResponse("ours")


urlpatterns = [
    path("secret/<int:pk>/", unprotected, name="secret_unprotected"),
    path("secret/listed/", view_without_action, name="secret_listed_without_action"),
    path("secret/protected/<int:pk>/", protected_but_not_listed, name="secret_not_listed"),
    *site_urlpatterns,
]

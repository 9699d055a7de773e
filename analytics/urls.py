"""Referrer health pages; each feature's views and URLs live in one module."""

from .views import alerts, board, outreach, reports, settings

urlpatterns = [
    *board.urlpatterns,
    *outreach.urlpatterns,
    *alerts.urlpatterns,
    *reports.urlpatterns,
    *settings.urlpatterns,
]

"""Referrer health pages; each feature's views and URLs live in one module."""

from .views import alerts, board, reports

urlpatterns = [*board.urlpatterns, *alerts.urlpatterns, *reports.urlpatterns]

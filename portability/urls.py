from django.urls import path

from . import views

urlpatterns = [
    path("settings/export/", views.export_page, name="practice_export"),
    path(
        "settings/export/<int:pk>/progress/", views.export_progress, name="practice_export_progress"
    ),
    path(
        "settings/export/<int:pk>/download/<str:token>/",
        views.export_download,
        name="practice_export_download",
    ),
]

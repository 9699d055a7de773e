"""Letters to referring GPs; each feature's views and URLs live in one module."""

from .views import delivery_log, letters, status_page, templates_editor

urlpatterns = [
    *letters.urlpatterns,
    *templates_editor.urlpatterns,
    *status_page.urlpatterns,
    *delivery_log.urlpatterns,
]

"""Staff pages of the referral domain; each feature's views and URLs live in one module."""

from .views import attachments, audit_log, imports, intake, offices, online, patients, timeline

urlpatterns = [
    *intake.urlpatterns,
    *patients.urlpatterns,
    *timeline.urlpatterns,
    *offices.urlpatterns,
    *online.urlpatterns,
    *imports.urlpatterns,
    *attachments.urlpatterns,
    *audit_log.urlpatterns,
]

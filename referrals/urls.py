"""Staff pages of the referral domain; each feature's views and URLs live in one module."""

from .views import (
    attachments,
    audit_log,
    home,
    imports,
    imports_wizard,
    intake,
    offices,
    online,
    patients,
    timeline,
)

urlpatterns = [
    *home.urlpatterns,
    *intake.urlpatterns,
    *patients.urlpatterns,
    *timeline.urlpatterns,
    *offices.urlpatterns,
    *online.urlpatterns,
    *imports.urlpatterns,
    *imports_wizard.urlpatterns,
    *attachments.urlpatterns,
    *audit_log.urlpatterns,
]

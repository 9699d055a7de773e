"""Attachments (radiographs, documents) are private: never served from MEDIA by URL, only
here, to logged-in members of the practice that owns them."""

from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.urls import path
from django.views.decorators.cache import never_cache

from practices.access import Action
from practices.audit import AuditAction, record
from practices.permissions import practice_required

from ..models import Attachment
from ..uploads import DICOM


@never_cache
@practice_required(Action.VIEW_CASES)
def attachment_file(request, pk):
    # Inside the request's practice scope: another practice's attachment is a 404.
    attachment = get_object_or_404(Attachment.objects.select_related("referral"), pk=pk)
    record(
        request,
        AuditAction.DOWNLOADED,
        obj=attachment,
        summary=(
            f"Attachment of online referral #{attachment.online_referral_id}"
            if attachment.referral_id is None
            else "Attachment of the case"
        ),
    )
    # A DICOM file is only ever downloaded (for the practice's imaging software): no
    # browser renders one, and it is never shown inline.
    download = request.GET.get("download") == "1" or attachment.content_type == DICOM
    response = FileResponse(
        attachment.file.open("rb"),
        content_type=attachment.content_type,  # decided from the content at upload
        as_attachment=download,
        filename=attachment.original_name,
    )
    # Never let a browser second-guess the type we checked.
    response["X-Content-Type-Options"] = "nosniff"
    return response


urlpatterns = [
    path("attachments/<int:pk>/", attachment_file, name="attachment_file"),
]

"""Files sent with an online referral: checked by content, stored privately, and served only
to logged-in staff of the practice that owns them."""

import io

import pytest
from django.core.cache import cache
from django_scopes import scopes_disabled

from practices.models import Role
from practices.scoping import practice_scope
from referrals.models import Attachment, OnlineReferral
from referrals.uploads import UploadRejected, check_attachment

from .online_referral_helpers import (
    dicom_bytes,
    form_data,
    image_bytes,
    make_submission,
    pdf_bytes,
    png_claiming,
    stored_files,
    upload,
)

pytestmark = pytest.mark.django_db

MB = 1024 * 1024


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


# --- content checks --------------------------------------------------------------------


@pytest.mark.parametrize(
    "fmt, content_type",
    [
        ("JPEG", "image/jpeg"),
        ("PNG", "image/png"),
        ("GIF", "image/gif"),
        ("TIFF", "image/tiff"),
    ],
)
def test_real_images_are_accepted_with_the_type_of_their_content(fmt, content_type):
    content = image_bytes(fmt)
    checked = check_attachment(io.BytesIO(content), "scan.bin", len(content))
    assert (checked.name, checked.content_type, checked.size) == (
        "scan.bin",
        content_type,
        len(content),
    )


def test_a_real_pdf_is_accepted():
    content = pdf_bytes()
    assert check_attachment(io.BytesIO(content), "x.pdf", len(content)).content_type == (
        "application/pdf"
    )


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("xray.png", b"just some text, not an image\n", "is not a JPEG, PNG, GIF or TIFF image"),
        ("report.pdf", b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200, "is not a JPEG, PNG"),
        ("page.pdf", b"<html><script>alert(1)</script></html>", "is not a JPEG, PNG"),
        ("cut.png", image_bytes("PNG")[:60], "looks like a PNG image but cannot be read"),
        ("cut.jpg", image_bytes("JPEG")[:200], "looks like a JPEG image but cannot be read"),
        ("cut.pdf", pdf_bytes()[:300], "looks like a PDF but is incomplete or damaged"),
        ("bomb.png", png_claiming(60000, 60000), "has too many pixels"),
        ("empty.jpg", b"", "is empty"),
        (
            "big.jpg",
            b"\xff\xd8\xff" + b"\x00" * (11 * MB),
            "is 11 MB; each file may be at most 10 MB",
        ),
    ],
)
def test_files_that_are_not_what_they_claim_are_rejected(name, content, message):
    with pytest.raises(UploadRejected) as caught:
        check_attachment(io.BytesIO(content), name, len(content))
    assert str(caught.value).startswith(f"“{name}”")
    assert message in str(caught.value)


def test_the_shown_name_loses_folders_and_control_characters():
    content = image_bytes()
    checked = check_attachment(io.BytesIO(content), "C:\\scans\\pano\x00 1.png", len(content))
    assert checked.name == "pano 1.png"


# --- through the public form -----------------------------------------------------------


@pytest.mark.parametrize(
    "bad_file, message",
    [
        (
            upload("xray.png", b"plain text pretending\n", "image/png"),
            "“xray.png” is not a JPEG, PNG, GIF or TIFF image, a PDF or a DICOM file",
        ),
        (
            upload("invoice.pdf", b"MZ\x90\x00" + b"\x00" * 500, "application/pdf"),
            "“invoice.pdf” is not a JPEG, PNG, GIF or TIFF image, a PDF or a DICOM file",
        ),
        (
            upload("huge.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * (11 * MB), "image/png"),
            "“huge.png” is 11 MB; each file may be at most 10 MB.",
        ),
    ],
    ids=["text-as-png", "exe-as-pdf", "11-mb"],
)
def test_a_refused_file_is_named_and_nothing_is_stored(
    client, practice, private_media, bad_file, message
):
    good = upload("pano.png", image_bytes(), "image/png")
    data = form_data(attachments=[good, bad_file])
    response = client.post("/refer/lakeside/", data)
    assert response.status_code == 200
    page = response.content.decode()
    assert message in page
    assert "Attach files</a>:" in page
    with scopes_disabled():
        assert not OnlineReferral.objects.exists()
        assert not Attachment.objects.exists()
    assert stored_files(private_media) == []


def test_every_refused_file_is_listed(client, practice):
    data = form_data(attachments=[upload("one.png", b"text"), upload("two.jpg", b"more text")])
    page = client.post("/refer/lakeside/", data).content.decode()
    assert "“one.png” is not" in page and "“two.jpg” is not" in page


def test_at_most_five_files(client, practice, private_media):
    files = [upload(f"scan{i}.png", image_bytes()) for i in range(6)]
    page = client.post("/refer/lakeside/", form_data(attachments=files)).content.decode()
    assert "You attached 6 files; send at most 5." in page
    with scopes_disabled():
        assert not OnlineReferral.objects.exists()
    assert stored_files(private_media) == []


def test_a_png_named_jpg_is_stored_as_png(client, practice):
    client.post(
        "/refer/lakeside/",
        form_data(attachments=[upload("scan.jpg", image_bytes("PNG"), "image/jpeg")]),
    )
    with practice_scope(practice):
        attachment = Attachment.objects.get()
    assert (attachment.original_name, attachment.content_type) == ("scan.jpg", "image/png")


# --- serving ---------------------------------------------------------------------------


@pytest.fixture
def attachment(practice):
    make_submission(practice, files=[upload("pano 1.png", image_bytes())])
    with practice_scope(practice):
        return Attachment.objects.get()


@pytest.mark.parametrize("role", [Role.ADMIN, Role.COORDINATOR, Role.FRONT_DESK, Role.CLINICIAN])
def test_staff_of_the_practice_get_the_file(client, attachment, role, request):
    user = request.getfixturevalue(
        {
            Role.ADMIN: "admin_user",
            Role.COORDINATOR: "coordinator_user",
            Role.FRONT_DESK: "front_desk_user",
            Role.CLINICIAN: "clinician_user",
        }[role]
    )
    client.force_login(user)
    response = client.get(f"/attachments/{attachment.pk}/")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == 'inline; filename="pano 1.png"'
    assert "no-store" in response["Cache-Control"]
    assert b"".join(response.streaming_content) == attachment.file.open("rb").read()


def test_download_link_asks_the_browser_to_save(admin_client, attachment):
    response = admin_client.get(f"/attachments/{attachment.pk}/?download=1")
    assert response["Content-Disposition"] == 'attachment; filename="pano 1.png"'


def test_an_attachment_needs_a_login(client, attachment):
    response = client.get(f"/attachments/{attachment.pk}/")
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next=/attachments/{attachment.pk}/"


def test_another_practices_attachment_is_404(client, attachment, outsider):
    client.force_login(outsider)
    assert client.get(f"/attachments/{attachment.pk}/").status_code == 404


def test_media_files_are_not_served_by_url(admin_client, attachment):
    assert admin_client.get(f"/media/{attachment.file.name}").status_code == 404
    assert admin_client.get(f"/{attachment.file.name}").status_code == 404


# --- DICOM (issue 12 item 6): stored and offered for download, never rendered ----------


def test_a_dicom_file_is_accepted_stored_and_downloadable_with_an_audit_entry(
    client, admin_user, practice, private_media
):
    from practices.audit import AuditAction
    from practices.models import AuditEntry

    content = dicom_bytes()
    response = client.post(
        "/refer/lakeside/",
        form_data(attachments=[upload("CBCT scan.dcm", content, "application/octet-stream")]),
    )
    assert response.status_code == 302
    with practice_scope(practice):
        attachment = Attachment.objects.get()
    assert (attachment.original_name, attachment.content_type, attachment.size) == (
        "CBCT scan.dcm",
        "application/dicom",
        len(content),
    )
    client.force_login(admin_user)
    item = client.get(f"/inbox/{attachment.online_referral_id}/").content.decode()
    link = f'href="/attachments/{attachment.pk}/?download=1" data-testid="dicom-download"'
    assert link in item
    assert f'<img src="/attachments/{attachment.pk}/"' not in item  # never rendered
    # Even without ?download=1 the browser is told to save it, not to show it.
    response = client.get(f"/attachments/{attachment.pk}/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/dicom"
    assert response["Content-Disposition"] == 'attachment; filename="CBCT scan.dcm"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == content
    with scopes_disabled():
        entry = AuditEntry.objects.filter(action=AuditAction.DOWNLOADED).get()
    assert (entry.object_type, entry.object_id) == ("attachment", str(attachment.pk))


def test_a_dicom_file_is_recognised_by_its_marker_whatever_its_name():
    content = dicom_bytes()
    checked = check_attachment(io.BytesIO(content), "IMG0001", len(content))
    assert checked.content_type == "application/dicom"


@pytest.mark.parametrize(
    "content, message",
    [
        (b"not a dicom at all" * 20, "“fake.dcm” is named like a DICOM file but is not one"),
        # The marker at the wrong place (no 128-byte preamble) is no DICOM file either.
        (b"DICM" + b"\x00" * 300, "“fake.dcm” is named like a DICOM file but is not one"),
        (b"\x00" * 128 + b"DICM" + b"\x00" * (11 * MB), "“fake.dcm” is 11 MB; each file may"),
    ],
    ids=["text", "no-preamble", "11-mb"],
)
def test_a_fake_or_oversized_dcm_is_refused_with_a_clear_message(
    client, practice, private_media, content, message
):
    page = client.post(
        "/refer/lakeside/",
        form_data(attachments=[upload("fake.dcm", content, "application/dicom")]),
    ).content.decode()
    assert message in page
    with scopes_disabled():
        assert not Attachment.objects.exists()
    assert stored_files(private_media) == []


def test_another_practices_dicom_file_is_404(client, outsider, practice):
    make_submission(practice, files=[upload("scan.dcm", dicom_bytes())])
    with practice_scope(practice):
        attachment = Attachment.objects.get()
    client.force_login(outsider)
    assert client.get(f"/attachments/{attachment.pk}/?download=1").status_code == 404

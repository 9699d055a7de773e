"""Synthetic files and form data for the online referral tests (no real patient data)."""

import datetime as dt
import io
import struct
import zlib

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from practices.scoping import practice_scope
from referrals import online_intake
from referrals.uploads import check_attachment


def image_bytes(fmt: str = "PNG", size=(64, 48)) -> bytes:
    # A grey gradient, like a small radiograph.
    image = Image.new("L", size)
    image.putdata([(x * 4 + y * 2) % 256 for y in range(size[1]) for x in range(size[0])])
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def pdf_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 40), "white").save(buffer, "PDF")
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def stored_files(root) -> list:
    """Every file under a storage root (MEDIA_ROOT of the test)."""
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def upload(name: str, content: bytes, content_type: str = "application/octet-stream"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def form_data(**overrides) -> dict:
    data = {
        "office_name": "Maple Family Dental",
        "office_phone": "(555) 010-2030",
        "office_zip": "02139",
        "office_email": "front@maple-dental.example",
        "doctor_first_name": "Robin",
        "doctor_last_name": "Smith",
        "doctor_email": "dr.smith@maple-dental.example",
        "patient_first_name": "Jordan",
        "patient_last_name": "Doe",
        "patient_date_of_birth": "1994-03-08",
        "patient_phone": "555-010-7788",
        "patient_email": "",
        "case_type": "third_molars",
        "urgency": "routine",
        "reason": "Impacted #17 and #32, pain on the right side.",
        "leave_blank": "",
    }
    data.update(overrides)
    return data


def make_submission(practice, *, files=(), **overrides):
    """A pending online referral as the public form stores it (through the service)."""
    data = form_data(**overrides)
    data["patient_date_of_birth"] = dt.date.fromisoformat(data["patient_date_of_birth"])
    checked = [(f, check_attachment(f, f.name, f.size)) for f in files]
    with practice_scope(practice):
        return online_intake.submit(practice, data, checked)


def dicom_bytes(pixels: int = 64) -> bytes:
    """A small synthetic DICOM Part 10 file: the 128-byte preamble, the "DICM" marker and a
    file meta group (explicit VR little endian), then a few bytes standing for pixel data."""

    def element(group: int, elem: int, vr: bytes, value: bytes) -> bytes:
        if len(value) % 2:
            value += b"\x00"
        return struct.pack("<HH", group, elem) + vr + struct.pack("<H", len(value)) + value

    meta = element(0x0002, 0x0010, b"UI", b"1.2.840.10008.1.2.1")
    length = element(0x0002, 0x0000, b"UL", struct.pack("<I", len(meta)))
    return b"\x00" * 128 + b"DICM" + length + meta + bytes(range(256))[:pixels]

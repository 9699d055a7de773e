"""Checks on files sent with an online referral, by what they contain.

A file's name and the content type its browser claims are chosen by the sender, so neither
is trusted: the first bytes say what a file is (JPEG, PNG, GIF, TIFF or PDF; a DICOM file by
its "DICM" marker after the 128-byte preamble), an image must really decode with Pillow, and
the content type we store and later serve comes from here. DICOM files are stored and offered
for download only, never rendered (views/attachments.py).
"""

import warnings
from dataclasses import dataclass
from typing import IO

from PIL import Image, UnidentifiedImageError

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_ATTACHMENTS = 5
ACCEPTED_KINDS = "JPEG, PNG, GIF or TIFF image, a PDF or a DICOM file"
DICOM = "application/dicom"
# A DICOM Part 10 file: a 128-byte preamble (any content), then "DICM", then the file meta
# group. A file named .dcm without the marker is refused with its own message.
_DICOM_PREAMBLE = 128
_DICOM_MAGIC = b"DICM"

# (leading bytes, Pillow format or "PDF", content type we serve it as)
_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"\xff\xd8\xff", "JPEG", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "PNG", "image/png"),
    (b"GIF87a", "GIF", "image/gif"),
    (b"GIF89a", "GIF", "image/gif"),
    (b"II*\x00", "TIFF", "image/tiff"),
    (b"MM\x00*", "TIFF", "image/tiff"),
)
# PDF readers accept the header anywhere in the first kilobyte (some scanners prefix junk).
_PDF_HEADER_WINDOW = 1024
_PDF_TRAILER_WINDOW = 2048


class UploadRejected(ValueError):
    """A file we will not store; the message names the file and says why."""


@dataclass(frozen=True)
class CheckedFile:
    name: str
    content_type: str
    size: int


def display_name(raw_name: str) -> str:
    """The name to show staff: no folders (some browsers send a full path), no control
    characters, at most 200 characters (the model's limit), never empty."""
    name = raw_name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = f"{stem[: 199 - len(ext)]}.{ext}" if dot and len(ext) <= 10 else name[:200]
    return name or "attachment"


def check_attachment(upload: IO[bytes], raw_name: str, size: int) -> CheckedFile:
    """Return what ``upload`` really is, or raise UploadRejected naming the file."""
    name = display_name(raw_name)
    if size > MAX_ATTACHMENT_BYTES:
        raise UploadRejected(
            f"“{name}” is {_megabytes(size)}; each file may be at most "
            f"{_megabytes(MAX_ATTACHMENT_BYTES)}."
        )
    if size == 0:
        raise UploadRejected(f"“{name}” is empty.")
    upload.seek(0)
    head = upload.read(_PDF_HEADER_WINDOW)
    for signature, image_format, content_type in _SIGNATURES:
        if head.startswith(signature):
            _check_image(upload, name, image_format)
            return CheckedFile(name, content_type, size)
    if head[_DICOM_PREAMBLE : _DICOM_PREAMBLE + len(_DICOM_MAGIC)] == _DICOM_MAGIC:
        return CheckedFile(name, DICOM, size)
    if b"%PDF-" in head:
        _check_pdf(upload, name, size)
        return CheckedFile(name, "application/pdf", size)
    if name.lower().endswith((".dcm", ".dicom")):
        raise UploadRejected(
            f"“{name}” is named like a DICOM file but is not one (no DICOM marker "
            "after its 128-byte preamble). Export it again from the imaging software as "
            "DICOM, or send the image as JPEG, PNG, TIFF or PDF."
        )
    raise UploadRejected(
        f"“{name}” is not a {ACCEPTED_KINDS} (its content is not one of these, "
        "whatever its name says)."
    )


def _check_image(upload: IO[bytes], name: str, image_format: str) -> None:
    # verify() checks the structure (and PNG checksums) without decoding; load() then
    # decodes every pixel, which is what a truncated or forged image fails at.
    damaged = UploadRejected(f"“{name}” looks like a {image_format} image but cannot be read.")
    try:
        with warnings.catch_warnings():
            # A tiny file that claims billions of pixels is an attack on memory, not an X-ray.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            for step in ("verify", "load"):
                upload.seek(0)
                with Image.open(upload, formats=[image_format]) as image:
                    getattr(image, step)()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadRejected(f"“{name}” has too many pixels to be a radiograph.") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise damaged from None
    finally:
        upload.seek(0)


def _check_pdf(upload: IO[bytes], name: str, size: int) -> None:
    upload.seek(max(0, size - _PDF_TRAILER_WINDOW))
    tail = upload.read()
    upload.seek(0)
    if b"%%EOF" not in tail:
        raise UploadRejected(f"“{name}” looks like a PDF but is incomplete or damaged.")


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB".replace(".0 MB", " MB")

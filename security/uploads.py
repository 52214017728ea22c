"""Uploaded files: kept in memory while a request is parsed (never spooled to a temporary file
in clear), their type decided by their content, and images re-encoded so nothing but the
pixels survives (a phone photo carries GPS, the camera's serial, the time it was taken)."""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass
from typing import IO

from flask import Request
from PIL import Image, ImageOps, UnidentifiedImageError

# A decoded image costs width x height x 4 bytes of memory; a scan or phone photo is far below.
MAX_PIXELS = 50_000_000
GENERIC_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})


class UploadRefused(ValueError):
    """The file is not one we take; the message is safe to show and names why."""


@dataclass(frozen=True)
class FileKind:
    """A type of file we accept: how it is named, declared and recognised."""

    name: str
    content_type: str
    label: str
    extension: str  # for a download's file name
    extensions: frozenset[str]  # names that say "this kind"
    declared_as: frozenset[str]  # content types that say "this kind"
    pillow_format: str | None = None  # images: re-encoded in this format

    @property
    def is_image(self) -> bool:
        return self.pillow_format is not None


PDF = FileKind(
    "pdf",
    "application/pdf",
    "a PDF",
    ".pdf",
    frozenset({".pdf"}),
    frozenset({"application/pdf", "application/x-pdf"}),
)
JPEG = FileKind(
    "jpeg",
    "image/jpeg",
    "a JPEG image",
    ".jpg",
    frozenset({".jpg", ".jpeg", ".jpe", ".jfif"}),
    frozenset({"image/jpeg", "image/jpg", "image/pjpeg"}),
    "JPEG",
)
PNG = FileKind(
    "png", "image/png", "a PNG image", ".png", frozenset({".png"}), frozenset({"image/png"}), "PNG"
)
WEBP = FileKind(
    "webp",
    "image/webp",
    "a WebP image",
    ".webp",
    frozenset({".webp"}),
    frozenset({"image/webp"}),
    "WEBP",
)
BY_CONTENT_TYPE = {kind.content_type: kind for kind in (PDF, JPEG, PNG, WEBP)}
KINDS = (PDF, JPEG, PNG, WEBP)
ACCEPTED = "a PDF, JPEG, PNG or WebP file"
SAVE_OPTIONS: dict[str, dict[str, object]] = {
    "JPEG": {"quality": 90},
    "PNG": {},
    "WEBP": {"quality": 90},
}


class InMemoryRequest(Request):
    """Werkzeug writes an upload over 500 KB to a temporary file, in clear; a passport scan must
    not touch the disk. MAX_CONTENT_LENGTH bounds what a request can hold in memory."""

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        return io.BytesIO()


@dataclass(frozen=True)
class CleanFile:
    """An accepted file: its kind by content, and the bytes to keep."""

    kind: FileKind
    data: bytes


def sniff(data: bytes) -> FileKind | None:
    """The accepted kind this content is, by its leading bytes; None for anything else."""
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    return None


def _claims(filename: str | None, declared_type: str | None) -> set[str]:
    """What the name's extension and the declared type say the file is: a kind's label, or
    the declared type itself. A name with another extension, or no type, says nothing."""
    claims: set[str] = set()
    name = (filename or "").lower()
    extension = name[name.rfind(".") :] if "." in name else ""
    claims.update(kind.label for kind in KINDS if extension in kind.extensions)
    declared = (declared_type or "").split(";")[0].strip().lower()
    if declared not in GENERIC_TYPES:
        labels = [kind.label for kind in KINDS if declared in kind.declared_as]
        claims.update(labels or [declared])
    return claims


def clean_upload(data: bytes, filename: str | None, declared_type: str | None) -> CleanFile:
    """Accept a PDF as given, or an image re-encoded without its metadata; refuse anything
    else, and a file whose name or declared type says it is something other than it is."""
    if not data:
        raise UploadRefused("The file is empty: choose the file again.")
    kind = sniff(data)
    if kind is None:
        raise UploadRefused(f"This file is not {ACCEPTED} (its content was checked, not its name).")
    wrong = sorted(_claims(filename, declared_type) - {kind.label})
    if wrong:
        raise UploadRefused(
            f"This file is {kind.label}, but its name or type says it is {wrong[0]}: it was "
            "refused. Upload the original file under its own name."
        )
    if kind.pillow_format is None:
        return CleanFile(kind, data)
    return CleanFile(kind, reencode(data, kind.pillow_format, kind.label))


def _target_mode(image: Image.Image, pillow_format: str) -> str:
    if pillow_format == "JPEG":
        return "L" if image.mode in ("L", "1") else "RGB"
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    if has_alpha:
        return "RGBA"
    return "L" if image.mode in ("L", "1") else "RGB"


def reencode(data: bytes, pillow_format: str, label: str) -> bytes:
    """The image's pixels, turned upright by its EXIF orientation, in a new file of the same
    format that carries nothing else: no EXIF (GPS, camera, time), XMP, ICC profile or
    comment. An animated image keeps its first frame."""
    formats = [pillow_format]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=formats) as probe:
                probe.verify()
            with Image.open(io.BytesIO(data), formats=formats) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise UploadRefused(
                        f"This image is {image.width} x {image.height} pixels: images can have "
                        f"up to {MAX_PIXELS // 1_000_000} million. Scale it down and try again."
                    )
                image.load()
                upright = ImageOps.exif_transpose(image)
                mode = _target_mode(upright, pillow_format)
                pixels = upright if upright.mode == mode else upright.convert(mode)
                # A new image from the raw pixels: it has no info, so nothing else is written.
                fresh = Image.frombytes(mode, pixels.size, pixels.tobytes())
    except UploadRefused:
        raise
    except (
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
        struct.error,
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as error:
        raise UploadRefused(
            f"This file looks like {label} but cannot be read as one (it may be damaged "
            "or cut short). Save it again and upload it."
        ) from error
    out = io.BytesIO()
    fresh.save(out, format=pillow_format, **SAVE_OPTIONS[pillow_format])
    return out.getvalue()

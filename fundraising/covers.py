"""Cover images: checked, re-encoded with Pillow, with every byte of metadata left behind."""

from __future__ import annotations

import io

from flask_babel import gettext as _
from PIL import Image, UnidentifiedImageError

from fundraising.models import Drive, DriveCover

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000
MAX_WIDTH = 1600
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP"}


class InvalidImage(ValueError):
    """The upload is not an image we take; the message says why."""


def reencode(data: bytes) -> tuple[bytes, int, int]:
    """Return a fresh JPEG (no EXIF, no GPS, no ICC text) and its size."""
    if not data:
        raise InvalidImage(_("Choose an image file."))
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidImage(_("The image is larger than 5 MB."))
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in ACCEPTED_FORMATS:
                raise InvalidImage(_("Use a JPEG, PNG or WebP image."))
            if probe.width * probe.height > MAX_PIXELS:
                raise InvalidImage(_("The image has too many pixels."))
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            converted = image.convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
        raise InvalidImage(_("The file is not a readable image.")) from error
    if converted.width > MAX_WIDTH:
        height = round(converted.height * MAX_WIDTH / converted.width)
        converted = converted.resize((MAX_WIDTH, height), Image.Resampling.LANCZOS)
    # A new image from the pixels alone: nothing of the original file's metadata survives.
    clean = Image.new("RGB", converted.size)
    clean.paste(converted)
    output = io.BytesIO()
    clean.save(output, format="JPEG", quality=85, optimize=True)
    return output.getvalue(), clean.width, clean.height


def set_cover(drive: Drive, data: bytes, alt_text: str) -> None:
    """Store a re-encoded cover image for the drive."""
    image, width, height = reencode(data)
    if drive.cover is None:
        drive.cover = DriveCover(
            image=image, width=width, height=height, alt_text=alt_text, version=1
        )
    else:
        drive.cover.image = image
        drive.cover.width = width
        drive.cover.height = height
        drive.cover.alt_text = alt_text
        drive.cover.version += 1

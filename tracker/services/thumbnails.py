"""Image attachments: which are real raster images, and their thumbnails (made once, kept on disk).

An attachment is an image when Pillow opens *its content* as PNG, JPEG, GIF or WebP, verifies it, and
finds it no larger than ``MAX_PIXELS``; its name and declared content type are never trusted (a
``shot.png`` may hold HTML, an SVG is never an image here: it can carry script). Only such images get a
thumbnail and may be shown inline in the browser; everything else stays a plain download.

Thumbnails are made lazily, the first time a page lists the attachment, and kept beside the media
(``MEDIA_ROOT/thumbnails/``), rather than at upload: uploads and the Jira import's bulk writer
(``tracker/services/artifacts.py``, ``bulk_import.py``) stay untouched and fast, attachments stored
before this feature get thumbnails too, and an import of thousands of files decodes only those someone
looks at. A file that is not an image leaves an empty ``.none`` marker, so it is examined once only.
Deleting an attachment row, by whatever path (the admin, a cascade from its artifact or project), removes
its thumbnail and marker once the deletion commits (:func:`forget_on_commit`).
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from django.conf import settings
from django.db import transaction
from PIL import Image, ImageOps

from tracker.models import Attachment

THUMBNAIL_SIZE = 240  # the longest side, in pixels
# 25 megapixels decode to at most 100 MB (RGBA): a phone photo fits, a "bomb" (a small file declaring
# huge dimensions) does not. Pillow itself warns above MAX_IMAGE_PIXELS and raises above twice that
# (PIL/Image.py, _decompression_bomb_check); we refuse anything above it before decoding a pixel.
MAX_PIXELS = 25_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

# Pillow format name -> the MIME type served for it. Only these plugins are tried (Image.open(formats=)).
RASTER_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}

# What Pillow raises on a file it cannot read or that fails verify(): not an image, never a 500.
_NOT_AN_IMAGE = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,  # raised, not just warned, where warnings are errors (the tests)
)


@dataclass(frozen=True)
class Thumbnail:
    """A stored thumbnail: where it is, its size for the <img> tag, and its MIME type."""

    path: Path
    width: int
    height: int
    content_type: str


def image_type(handle: IO[bytes]) -> str | None:
    """The MIME type of the raster image in ``handle``, or None when it is not one we accept."""
    try:
        with Image.open(handle, formats=list(RASTER_TYPES)) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                return None
            image.verify()
            return RASTER_TYPES.get(image.format or "")
    except _NOT_AN_IMAGE:
        return None


def attachment_image_type(attachment: Attachment) -> str | None:
    """The MIME type the attachment may be shown inline as, or None (a download, then)."""
    try:
        with attachment.file.open("rb") as handle:
            return image_type(handle)
    except (FileNotFoundError, ValueError):
        return None


def _stem(attachment: Attachment) -> Path:
    # Keyed by the stored file's name too: a thumbnail never outlives the file it was made from.
    digest = hashlib.sha256(attachment.file.name.encode()).hexdigest()[:16]
    return Path(settings.MEDIA_ROOT) / "thumbnails" / f"{attachment.pk}-{digest}"


def _stored(stem: Path) -> Thumbnail | None:
    for suffix, content_type in ((".png", "image/png"), (".jpg", "image/jpeg")):
        path = stem.with_suffix(suffix)
        try:
            with Image.open(path) as image:  # reads the header only
                return Thumbnail(path, image.width, image.height, content_type)
        except FileNotFoundError:
            continue
        except _NOT_AN_IMAGE:  # a damaged cache file: made anew
            path.unlink(missing_ok=True)
    return None


def _write_atomically(path: Path, image: Image.Image, format_: str) -> None:
    # Two requests may make the same thumbnail at once: each writes its own temporary file and
    # renames it into place (os.replace is atomic on one filesystem), so no reader sees half a file.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            image.save(out, format=format_, **({"quality": 85} if format_ == "JPEG" else {"optimize": True}))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _make(attachment: Attachment, stem: Path) -> Thumbnail | None:
    try:
        with attachment.file.open("rb") as handle:
            if image_type(handle) is None:
                stem.parent.mkdir(parents=True, exist_ok=True)
                stem.with_suffix(".none").touch()
                return None
            handle.seek(0)  # verify() leaves the image unusable: open it again to decode
            with Image.open(handle, formats=list(RASTER_TYPES)) as image:
                is_jpeg = image.format == "JPEG"
                if is_jpeg:
                    image.draft("RGB", (THUMBNAIL_SIZE * 2, THUMBNAIL_SIZE * 2))  # decode at a reduced scale
                small = ImageOps.exif_transpose(image)  # phone photos: upright, as the browser shows them
                small.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
                if is_jpeg:
                    small = small.convert("RGB")
                elif small.mode not in ("RGB", "RGBA", "L", "LA"):
                    small = small.convert("RGBA")  # palette GIFs, CMYK...: PNG keeps transparency
        suffix, format_, content_type = (
            (".jpg", "JPEG", "image/jpeg") if is_jpeg else (".png", "PNG", "image/png")
        )
        path = stem.with_suffix(suffix)
        _write_atomically(path, small, format_)
        return Thumbnail(path, small.width, small.height, content_type)
    except (FileNotFoundError, ValueError):  # the attachment's file is missing from the server
        return None
    except _NOT_AN_IMAGE:  # passed verify() but fails to decode (a truncated file)
        stem.with_suffix(".none").touch()
        return None


def thumbnail_for(attachment: Attachment) -> Thumbnail | None:
    """The attachment's thumbnail, made now if it is an image seen for the first time; None otherwise."""
    stem = _stem(attachment)
    if stem.with_suffix(".none").exists():
        return None
    return _stored(stem) or _make(attachment, stem)


@dataclass(frozen=True)
class AttachmentItem:
    """An attachment as the artifact page lists it: with its thumbnail when it is an image."""

    attachment: Attachment
    thumbnail: Thumbnail | None


def attachment_items(attachments: list[Attachment]) -> list[AttachmentItem]:
    """The page's attachments with their thumbnails: files only, no database query."""
    return [AttachmentItem(attachment, thumbnail_for(attachment)) for attachment in attachments]


def forget_on_commit(attachment: Attachment) -> None:
    """Remove the attachment's thumbnail and marker once the transaction deleting its row commits.

    The path is worked out now, while the instance still has its id; the files go only after the
    commit, so a deletion that rolls back leaves the attachment with its thumbnail.
    """
    transaction.on_commit(functools.partial(_remove, _stem(attachment)))


def _remove(stem: Path) -> None:
    for suffix in (".png", ".jpg", ".none"):
        stem.with_suffix(suffix).unlink(missing_ok=True)

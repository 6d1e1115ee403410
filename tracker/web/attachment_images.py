"""Image attachments in the browser: the thumbnail and the full-size preview, for readers only.

Same rule as the download (``artifacts.attachment_download``): an attachment of an artifact the user
may not read does not exist (404). Only content that Pillow validated as PNG/JPEG/GIF/WebP is ever
served inline, with the type found in the content (never the uploader's); anything else is a 404
here and stays a download there.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest
from django.shortcuts import get_object_or_404

from tracker import permissions
from tracker.models import Attachment
from tracker.services.thumbnails import attachment_image_type, thumbnail_for
from tracker.web.artifacts import safe_filename


def _secured(response: FileResponse) -> FileResponse:
    # The browser must take the declared image type as it is, never guess HTML or script from bytes.
    response["X-Content-Type-Options"] = "nosniff"
    # Opened on its own (the preview tab), an image document needs nothing else: no script, no style.
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'"
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
def attachment_image(request: HttpRequest, pk: int, variant: str) -> FileResponse:
    """``variant`` is ``thumbnail`` (the small image on the artifact page) or ``preview`` (the file)."""
    if variant not in ("thumbnail", "preview"):
        raise Http404("No such view of an attachment.")
    attachment = get_object_or_404(
        Attachment.objects.filter(artifact__in=permissions.readable_artifacts(request.user)), pk=pk
    )
    if variant == "thumbnail":
        thumbnail = thumbnail_for(attachment)
        if thumbnail is None:
            raise Http404("This attachment is not an image.")
        return _secured(FileResponse(thumbnail.path.open("rb"), content_type=thumbnail.content_type))
    content_type = attachment_image_type(attachment)
    if content_type is None:
        raise Http404("This attachment is not an image: download it instead.")
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=False,
        filename=safe_filename(attachment.filename),
        content_type=content_type,
    )
    return _secured(response)

"""Image attachments: a thumbnail on the artifact page, a preview in the browser, readers only.

Whether a file is an image is decided by its content (Pillow), never its name or declared type.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image

from tests.conftest import PASSWORD
from tests.support.browser import chromium_marks, chromium_page
from tracker.models import Artifact, Attachment, FieldType, Tracker, User
from tracker.services.artifacts import create_artifact
from tracker.services.fields import add_field
from tracker.services.thumbnails import MAX_PIXELS, THUMBNAIL_SIZE

BROWSER, NEEDS_CHROMIUM = chromium_marks()
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'


def photo(width: int = 640, height: int = 480, format_: str = "PNG") -> bytes:
    """A noisy image, so that its file is big and a thumbnail of it is clearly smaller."""
    image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    out = io.BytesIO()
    image.save(out, format=format_)
    return out.getvalue()


def png_bomb(width: int = 30_000, height: int = 30_000) -> bytes:
    """A valid-looking PNG of a few hundred bytes whose header declares ``width`` x ``height`` pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    rows = zlib.compress(b"\x00" * 1024)  # far too few pixels: decoding would expand it to gigabytes
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


@pytest.fixture
def gallery(tasks: Tracker) -> Tracker:
    """The private tasks tracker (alice and bob are members, carol and dave are not), with files."""
    add_field(tasks, name="files", label="Files", type=FieldType.FILES)
    return tasks


def attach(tracker: Tracker, author: User, *files: tuple[str, bytes, str]) -> Artifact:
    uploads = [SimpleUploadedFile(name, content, content_type=kind) for name, content, kind in files]
    return create_artifact(
        tracker, author=author, values={"title": "With files"}, uploads={"files": uploads}
    ).artifact


def attachment(artifact: Artifact, filename: str) -> Attachment:
    return Attachment.objects.get(artifact=artifact, filename=filename)


def image_url(item: Attachment, variant: str) -> str:
    return reverse("tracker:attachment-image", args=[item.pk, variant])


def page(client, artifact: Artifact) -> str:
    response = client.get(reverse("tracker:artifact-detail", args=[artifact.pk]))
    assert response.status_code == 200
    return response.content.decode()


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_a_png_is_shown_as_a_smaller_thumbnail_linking_to_its_preview(
    client_as, gallery: Tracker, alice: User, bob: User
) -> None:
    original = photo(640, 480)
    artifact = attach(gallery, alice, ("screen shot.png", original, "image/png"))
    shot = attachment(artifact, "screen shot.png")
    client = client_as(bob)

    html = page(client, artifact)

    # It should show the thumbnail, sized and named, inside a link to the full image.
    thumb_url, preview_url = image_url(shot, "thumbnail"), image_url(shot, "preview")
    assert (
        f'<a class="attachment-thumbnail" href="{preview_url}" target="_blank" rel="noopener">'
        f'<img src="{thumb_url}" alt="screen shot.png" width="240" height="180"' in html
    )
    # The name still downloads the file.
    assert reverse("tracker:attachment-download", args=[shot.pk]) in html

    response = client.get(thumb_url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    thumbnail = body(response)
    assert len(thumbnail) < len(original)
    with Image.open(io.BytesIO(thumbnail)) as image:
        image.verify()
        assert image.format == "PNG" and image.size == (THUMBNAIL_SIZE, 180)

    # The preview is the file itself, for the browser to show.
    response = client.get(preview_url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'inline; filename="screen shot.png"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert body(response) == original


def test_a_jpeg_gets_a_jpeg_thumbnail_and_the_type_comes_from_the_content(
    client_as, gallery: Tracker, alice: User, bob: User
) -> None:
    # Declared as a download of unknown type, named without an extension: still a JPEG photo.
    artifact = attach(gallery, alice, ("holiday", photo(300, 600, "JPEG"), "application/octet-stream"))
    holiday = attachment(artifact, "holiday")
    client = client_as(bob)

    assert 'alt="holiday" width="120" height="240"' in page(client, artifact)
    response = client.get(image_url(holiday, "thumbnail"))
    assert response["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(body(response))) as image:
        assert image.format == "JPEG" and image.size == (120, 240)
    assert client.get(image_url(holiday, "preview"))["Content-Type"] == "image/jpeg"


def test_a_thumbnail_is_made_once_when_first_asked_for_and_kept_beside_the_media(
    client_as, settings, gallery: Tracker, alice: User, bob: User
) -> None:
    artifact = attach(gallery, alice, ("shot.png", photo(), "image/png"))
    shot = attachment(artifact, "shot.png")
    folder = Path(settings.MEDIA_ROOT) / "thumbnails"
    assert not folder.exists()  # the upload did not pay for it

    client = client_as(bob)
    first = body(client.get(image_url(shot, "thumbnail")))  # asked for before any page listed it
    (made,) = folder.iterdir()
    assert made.read_bytes() == first
    # Kept: later answers read it, even once the original is gone from the disk.
    shot.file.delete(save=False)
    assert body(client.get(image_url(shot, "thumbnail"))) == first
    assert 'alt="shot.png" width="240" height="180"' in page(client, artifact)
    assert client.get(image_url(shot, "preview")).status_code == 404
    assert list(folder.iterdir()) == [made]


def test_thumbnail_and_preview_are_404_for_non_readers(
    client_as, gallery: Tracker, alice: User, carol: User, dave: User
) -> None:
    artifact = attach(gallery, alice, ("shot.png", photo(), "image/png"))
    shot = attachment(artifact, "shot.png")
    page(client_as(alice), artifact)  # the thumbnail exists now: its file must not leak either

    for outsider in (carol, dave):  # a member of another project, a member of nothing
        client = client_as(outsider)
        assert client.get(image_url(shot, "thumbnail")).status_code == 404
        assert client.get(image_url(shot, "preview")).status_code == 404
    # Only the two views exist.
    assert client_as(alice).get(image_url(shot, "nonsense")).status_code == 404


def test_a_file_named_png_that_is_not_an_image_is_a_plain_download(
    client_as, gallery: Tracker, alice: User, bob: User
) -> None:
    fake = b"<html><script>alert(1)</script></html>"
    artifact = attach(gallery, alice, ("shot.png", fake, "image/png"))
    shot = attachment(artifact, "shot.png")
    client = client_as(bob)

    html = page(client, artifact)
    assert "<img" not in html.split('id="attachments"')[1].split("</ul>")[0]
    assert client.get(image_url(shot, "thumbnail")).status_code == 404
    assert client.get(image_url(shot, "preview")).status_code == 404
    download = client.get(reverse("tracker:attachment-download", args=[shot.pk]))
    assert download["Content-Disposition"] == 'attachment; filename="shot.png"'
    assert body(download) == fake
    # Looked at once: the next page does not read the file again, and still shows no thumbnail.
    assert "<img" not in page(client, artifact).split('id="attachments"')[1].split("</ul>")[0]


def test_an_svg_is_never_shown_inline(client_as, gallery: Tracker, alice: User, bob: User) -> None:
    artifact = attach(gallery, alice, ("logo.svg", SVG, "image/svg+xml"))
    logo = attachment(artifact, "logo.svg")
    client = client_as(bob)

    assert "<img" not in page(client, artifact).split('id="attachments"')[1].split("</ul>")[0]
    assert client.get(image_url(logo, "thumbnail")).status_code == 404
    assert client.get(image_url(logo, "preview")).status_code == 404
    download = client.get(reverse("tracker:attachment-download", args=[logo.pk]))
    assert download["Content-Disposition"] == 'attachment; filename="logo.svg"'


# Pillow warns (does not raise) between its limit and twice it: expected here, and refused all the same.
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_a_decompression_bomb_gets_no_thumbnail_and_no_error(
    client_as, gallery: Tracker, alice: User, bob: User
) -> None:
    bomb = png_bomb()
    assert len(bomb) < 1000 and 2 * MAX_PIXELS < 30_000 * 30_000
    # Just above the limit, below the point where Pillow raises by itself: refused by our own check.
    near = png_bomb(MAX_PIXELS // 1000 + 1, 1000)
    artifact = attach(gallery, alice, ("bomb.png", bomb, "image/png"), ("near.png", near, "image/png"))
    client = client_as(bob)

    html = page(client, artifact)
    assert "<img" not in html.split('id="attachments"')[1].split("</ul>")[0]
    for name in ("bomb.png", "near.png"):
        item = attachment(artifact, name)
        assert client.get(image_url(item, "thumbnail")).status_code == 404
        assert client.get(image_url(item, "preview")).status_code == 404
        download = client.get(reverse("tracker:attachment-download", args=[item.pk]))
        assert download["Content-Disposition"] == f'attachment; filename="{name}"'


def test_a_truncated_image_gets_no_thumbnail_and_no_error(
    client_as, gallery: Tracker, alice: User, bob: User
) -> None:
    artifact = attach(gallery, alice, ("cut.png", photo()[:5000], "image/png"))
    assert "<img" not in page(client_as(bob), artifact).split('id="attachments"')[1].split("</ul>")[0]


def test_thumbnails_add_no_query_to_the_artifact_page(
    client_as, gallery: Tracker, alice: User, bob: User
) -> None:
    plain = attach(gallery, alice, ("notes.txt", b"notes", "text/plain"))
    images = attach(gallery, alice, *[(f"shot{n}.png", photo(64, 48), "image/png") for n in range(5)])
    client = client_as(bob)
    page(client, plain)  # the session and caches warm up alike for both

    counts = []
    for artifact in (plain, images, images):  # the second time, the thumbnails are read from disk
        with CaptureQueriesContext(connection) as queries:
            html = page(client, artifact)
        counts.append(len(queries))
    assert html.count('class="attachment-thumbnail"') == 5
    assert counts[0] == counts[1] == counts[2]


@BROWSER
@NEEDS_CHROMIUM
def test_in_chromium_the_thumbnail_is_drawn_and_opens_the_preview(
    monkeypatch, live_server, gallery: Tracker, alice: User, bob: User
) -> None:
    from playwright.sync_api import expect

    artifact = attach(gallery, alice, ("chart.png", photo(480, 240), "image/png"))
    with chromium_page(monkeypatch, timeout_ms=20_000) as page:
        violations: list[str] = []
        page.on("console", lambda m: violations.append(m.text) if "Content Security" in m.text else None)
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Username").fill("bob")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Projects", exact=True)).to_be_visible()

        page.goto(f"{live_server.url}/artifacts/{artifact.pk}/")
        thumbnail = page.get_by_role("img", name="chart.png")
        expect(thumbnail).to_be_visible()
        # It should be decoded by the browser (allowed by the page's img-src 'self'), at 240 x 120.
        # img.decode() waits for it (and rejects a broken image); no wait_for_function: Playwright
        # polls a string predicate with eval, which the page's CSP (no 'unsafe-eval') refuses.
        size = thumbnail.evaluate(
            "async img => { await img.decode(); return [img.naturalWidth, img.naturalHeight]; }"
        )
        assert size == [240, 120]

        with page.expect_popup() as opened:
            page.locator(".attachment-thumbnail").click()
        preview = opened.value
        preview.wait_for_load_state()
        # The browser shows the file itself as an image document, not a download.
        assert preview.evaluate("[document.contentType, document.images[0].naturalWidth]") == [
            "image/png",
            480,
        ]
        assert violations == []

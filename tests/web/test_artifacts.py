"""Artifact pages: the generated form, creating, editing with a comment, history, watching, files."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from tests.support.world import typed_tracker
from tracker.models import (
    Artifact,
    ArtifactSubscription,
    Attachment,
    Changeset,
    FieldType,
    Project,
    Tracker,
    User,
)
from tracker.services.artifacts import create_artifact, update_artifact
from tracker.services.fields import add_field


def artifact_url(artifact: Artifact) -> str:
    return reverse("tracker:artifact-detail", args=[artifact.pk])


@pytest.fixture
def typed(public_project: Project) -> Tracker:
    """A tracker with a field of each type."""
    return typed_tracker(public_project)


# The generated form ---------------------------------------------------------------------------


def test_the_create_form_has_one_labelled_input_per_field_with_required_ones_marked(
    client_as, bugs: Tracker, bob: User, carol: User
) -> None:
    page = client_as(bob).get(reverse("tracker:artifact-create", args=[bugs.pk])).content.decode()
    assert '<input type="text" name="title"' in page and 'aria-required="true"' in page
    assert '<label for="id_title">Title<span class="required" title="required">*</span></label>' in page
    assert '<textarea name="description"' in page
    assert '<select name="status"' in page and ">In progress</option>" in page
    # User fields offer the project's members.
    assert '<select name="assigned_to"' in page and ">Carol (carol)</option>" in page
    assert '<select name="cc"' in page and "multiple" in page
    assert "Create artifact" in page


def test_creating_an_artifact_with_every_field_type(
    client_as, typed: Tracker, bob: User, carol: User, crash: Artifact
) -> None:
    typed_fields = {f.name: f for f in typed.fields.all()}
    major = typed_fields["severity"].options.get(label="Major")
    linux, macos = typed_fields["os"].options.order_by("rank")
    response = client_as(bob).post(
        reverse("tracker:artifact-create", args=[typed.pk]),
        {
            "title": "Everything",
            "details": "Line one\nLine two",
            "effort": "3",
            "ratio": "0.5",
            "due": "2026-12-31",
            "seen": "2026-11-30T10:00",
            "severity": str(major.pk),
            "os": [str(linux.pk), str(macos.pk)],
            "owner": str(carol.pk),
            "reviewers": [str(bob.pk), str(carol.pk)],
            "labels": "ui, regression , ui",
            "files": [
                SimpleUploadedFile("trace.txt", b"Traceback...", content_type="text/plain"),
                SimpleUploadedFile("shot.png", b"\x89PNG", content_type="image/png"),
            ],
            "links": f"#{crash.pk}",
        },
    )
    artifact = Artifact.objects.get(tracker=typed)
    assert response.status_code == 302
    assert response["Location"] == artifact_url(artifact)
    values = {name: artifact.current_values.get(str(f.pk)) for name, f in typed_fields.items()}
    assert values["title"] == "Everything"
    assert values["effort"] == 3 and values["ratio"] == 0.5
    assert values["due"] == "2026-12-31"
    assert values["seen"] == "2026-11-30T10:00:00+00:00"
    assert values["severity"] == major.pk and values["os"] == sorted([linux.pk, macos.pk])
    assert values["owner"] == carol.pk and values["reviewers"] == sorted([bob.pk, carol.pk])
    assert values["labels"] == ["ui", "regression"]
    assert sorted(Attachment.objects.filter(artifact=artifact).values_list("filename", flat=True)) == [
        "shot.png",
        "trace.txt",
    ]
    assert values["links"] == [{"artifact": crash.pk, "type": ""}]

    page = client_as(bob).get(artifact_url(artifact)).content.decode()
    for shown in (
        "Everything",
        "Major",
        "Linux, macOS",
        "Carol (carol)",
        "ui, regression",
        "trace.txt",
        "bug #",
    ):
        assert shown in page


def test_an_artifact_edited_without_changes_to_its_fields_keeps_them(
    client_as, typed: Tracker, bob: User, carol: User, crash: Artifact
) -> None:
    # Prefilled inputs sent back untouched must not count as changes (dates, links, lists).
    artifact = create_artifact(
        typed,
        author=bob,
        values={
            "title": "Stable",
            "seen": "2026-11-30T10:00:00+00:00",
            "labels": ["a", "b"],
            "links": [{"artifact": crash.pk, "type": "relates"}],
            "owner": "carol",
            "os": ["Linux"],
            "ratio": 1.5,
        },
        uploads={"files": [SimpleUploadedFile("keep.txt", b"kept")]},
    ).artifact
    client = client_as(bob)
    form = client.get(artifact_url(artifact)).context["form"]
    posted = {name: value for name, value in form.initial.items() if value is not None}
    response = client.post(artifact_url(artifact), {**posted, "comment": "Only a comment"})
    assert response.status_code == 302
    latest = artifact.changesets.order_by("-id").first()
    assert latest.comment == "Only a comment"
    assert list(latest.values.all()) == []
    artifact.refresh_from_db()
    # The typed link survives an edit of other fields, and of the links themselves.
    links = next(f for f in typed.fields.all() if f.name == "links")
    assert artifact.current_values[str(links.pk)] == [{"artifact": crash.pk, "type": "relates"}]
    other = create_artifact(typed, author=bob, values={"title": "Other"}).artifact
    client.post(artifact_url(artifact), {**posted, "links": f"{crash.pk}, {other.pk}"})
    artifact.refresh_from_db()
    assert artifact.current_values[str(links.pk)] == [
        {"artifact": crash.pk, "type": "relates"},
        {"artifact": other.pk, "type": ""},
    ]


def test_text_sent_back_with_browser_line_endings_is_no_change(client_as, crash: Artifact, bob: User) -> None:
    update_artifact(crash, author=bob, values={"description": "First line\nSecond line"})
    new = crash.tracker.fields.get(name="status").options.get(label="New")
    # Browsers submit textarea content with CRLF line endings.
    response = client_as(bob).post(
        artifact_url(crash),
        {
            "title": "Crash on save",
            "status": str(new.pk),
            "description": "First line\r\nSecond line",
            "comment": "Seen\r\nagain",
        },
    )
    assert response.status_code == 302
    latest = crash.changesets.order_by("-id").first()
    assert list(latest.values.all()) == []
    assert latest.comment == "Seen\nagain"


def test_missing_title_and_bad_integer_are_shown_next_to_their_fields(
    client_as, typed: Tracker, bob: User
) -> None:
    response = client_as(bob).post(
        reverse("tracker:artifact-create", args=[typed.pk]), {"title": "", "effort": "three", "due": "31/12"}
    )
    assert response.status_code == 200
    page = response.content.decode()
    # Each message sits in the field's own row, right after its input, which keeps what was typed.
    title_row = page[page.index('<label for="id_title">') : page.index('<label for="id_details">')]
    assert "This field is required." in title_row
    effort_row = page[page.index('<label for="id_effort">') : page.index('<label for="id_ratio">')]
    assert "Enter a whole number." in effort_row and 'value="three"' in effort_row
    assert "Enter a date as YYYY-MM-DD." in page
    assert not Artifact.objects.filter(tracker=typed).exists()


@pytest.mark.parametrize("links", ["12, abc", "12, ²", "12, ٣"])
def test_links_that_are_not_artifact_ids_are_a_form_error(
    client_as, typed: Tracker, bob: User, links: str
) -> None:
    response = client_as(bob).post(
        reverse("tracker:artifact-create", args=[typed.pk]), {"title": "Links", "links": links}
    )
    assert response.status_code == 200
    links_row = response.content.decode().split('<label for="id_links">')[1]
    assert "Enter artifact ids separated by commas, like 12, 15." in links_row
    assert not Artifact.objects.filter(tracker=typed).exists()


def test_a_link_to_an_artifact_the_author_cannot_read_is_refused(
    client_as, typed: Tracker, secret_task: Artifact, carol: User
) -> None:
    # carol is not a member of the private project: its artifact does not exist for her.
    response = client_as(carol).post(
        reverse("tracker:artifact-create", args=[typed.pk]), {"title": "Leak", "links": str(secret_task.pk)}
    )
    assert response.status_code == 200
    links_row = response.content.decode().split('<label for="id_links">')[1]
    assert f"No artifact with id {secret_task.pk}." in links_row
    assert not Artifact.objects.filter(tracker=typed).exists()


# Editing and history --------------------------------------------------------------------------------


def test_an_edit_with_a_comment_shows_old_and_new_values_and_the_comment(
    client_as, crash: Artifact, bob: User
) -> None:
    client = client_as(bob)
    status = crash.tracker.fields.get(name="status")
    in_progress = status.options.get(label="In progress")
    response = client.post(
        artifact_url(crash),
        {
            "title": "Crash on save (Firefox)",
            "status": str(in_progress.pk),
            "comment": "Only **Firefox** is affected.",
            "comment_format": "markdown",
        },
        follow=True,
    )
    page = response.content.decode()
    assert "Changes saved." in page
    assert '<span class="old-value">Crash on save</span>' in page
    assert '<span class="new-value">Crash on save (Firefox)</span>' in page
    assert (
        '<span class="old-value">New</span>' in page and '<span class="new-value">In progress</span>' in page
    )
    assert "Only <strong>Firefox</strong> is affected." in page
    assert "Bob (bob)" in page
    latest = crash.changesets.order_by("-id").first()
    assert latest.author == bob and latest.comment_format == Changeset.CommentFormat.MARKDOWN


def test_a_script_in_a_comment_is_escaped_or_sanitized(
    client_as, crash: Artifact, bob: User, alice: User
) -> None:
    client = client_as(bob)
    client.post(artifact_url(crash), {"title": crash.title, "comment": "<script>alert('text')</script>"})
    client.post(
        artifact_url(crash),
        {
            "title": crash.title,
            "comment": "<script>alert('md')</script> <img src=x onerror=alert(1)>",
            "comment_format": "markdown",
        },
    )
    update_artifact(
        crash,
        author=alice,
        comment="<p onclick='x()'>hi</p><script>alert('html')</script>",
        comment_format="html",
    )
    page = client.get(artifact_url(crash)).content.decode()
    # No live script, image or handler: plain text and Markdown show what was typed, escaped;
    # HTML comments are sanitized.
    assert "<script>alert" not in page
    assert "<img src=x" not in page and "onerror=alert(1)>" not in page and "onclick" not in page
    assert "&lt;script&gt;alert(&#x27;text&#x27;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<p>hi</p>" in page


def test_a_title_with_markup_is_escaped(client_as, bugs: Tracker, alice: User, bob: User) -> None:
    artifact = create_artifact(
        bugs, author=alice, values={"title": "<b>bold</b> & <script>x</script>"}
    ).artifact
    page = client_as(bob).get(artifact_url(artifact)).content.decode()
    assert "<b>bold</b>" not in page
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;x&lt;/script&gt;" in page


def test_an_edit_that_changes_nothing_says_so_at_the_top_of_the_page(
    client_as, crash: Artifact, bob: User
) -> None:
    status = crash.tracker.fields.get(name="status")
    response = client_as(bob).post(
        artifact_url(crash),
        {"title": "Crash on save", "status": str(status.options.get(label="New").pk)},
        follow=True,
    )
    # It should answer where the person looks after pressing the button: the page's messages.
    assert response.redirect_chain == [(artifact_url(crash), 302)]
    messages = [str(m) for m in response.context["messages"]]
    assert messages == ["Nothing to save: change a value or add a comment."]
    assert crash.changesets.count() == 1


def test_files_chosen_before_a_validation_error_are_said_to_be_lost(
    client_as, typed: Tracker, bob: User
) -> None:
    response = client_as(bob).post(
        reverse("tracker:artifact-create", args=[typed.pk]),
        {"title": "  ", "files": [SimpleUploadedFile("trace.txt", b"Traceback")]},
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "This field is required." in page
    # It should say next to the file field that the file must be chosen again.
    assert "choose the files again (trace.txt)" in page
    assert not Attachment.objects.exists()


def test_clearing_a_required_field_is_refused(client_as, crash: Artifact, bob: User) -> None:
    response = client_as(bob).post(artifact_url(crash), {"title": "  "})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    crash.refresh_from_db()
    assert crash.title == "Crash on save"


def test_attachments_can_be_added_and_removed_on_edit(client_as, typed: Tracker, bob: User) -> None:
    client = client_as(bob)
    client.post(
        reverse("tracker:artifact-create", args=[typed.pk]),
        {"title": "With files", "files": [SimpleUploadedFile("one.txt", b"1")]},
    )
    artifact = Artifact.objects.get(tracker=typed)
    one = Attachment.objects.get(artifact=artifact)
    client.post(
        artifact_url(artifact), {"title": "With files", "files": [SimpleUploadedFile("two.txt", b"2")]}
    )
    files = typed.fields.get(name="files")
    artifact.refresh_from_db()
    assert len(artifact.current_values[str(files.pk)]) == 2
    client.post(artifact_url(artifact), {"title": "With files", "files__remove": [str(one.pk)]})
    artifact.refresh_from_db()
    assert artifact.current_values[str(files.pk)] == [Attachment.objects.get(filename="two.txt").pk]


# Who may do what ----------------------------------------------------------------------------------


def test_a_private_artifact_does_not_exist_for_outsiders(
    client_as, secret_task: Artifact, tasks: Tracker, dave: User, carol: User
) -> None:
    for outsider in (dave, carol):
        client = client_as(outsider)
        assert client.get(artifact_url(secret_task)).status_code == 404
        assert client.post(artifact_url(secret_task), {"title": "Hacked"}).status_code == 404
        assert client.get(reverse("tracker:artifact-create", args=[tasks.pk])).status_code == 404
        assert (
            client.post(reverse("tracker:artifact-create", args=[tasks.pk]), {"title": "X"}).status_code
            == 404
        )
        assert (
            client.post(reverse("tracker:artifact-watch", args=[secret_task.pk]), {"watch": "1"}).status_code
            == 404
        )
    secret_task.refresh_from_db()
    assert secret_task.title == "Plan the launch"
    assert tasks.artifacts.count() == 1


def test_members_of_a_private_project_read_and_edit(client_as, secret_task: Artifact, bob: User) -> None:
    client = client_as(bob)
    assert "Plan the launch" in client.get(artifact_url(secret_task)).content.decode()
    assert client.post(artifact_url(secret_task), {"title": "Plan the launch party"}).status_code == 302
    secret_task.refresh_from_db()
    assert secret_task.title == "Plan the launch party"


def test_outsiders_read_a_public_artifact_but_cannot_edit_it(
    client_as, crash: Artifact, bugs: Tracker, dave: User
) -> None:
    client = client_as(dave)
    page = client.get(artifact_url(crash)).content.decode()
    assert "Crash on save" in page
    assert "Save changes" not in page and 'name="comment"' not in page
    assert client.post(artifact_url(crash), {"title": "Hacked", "comment": "hi"}).status_code == 403
    assert client.get(reverse("tracker:artifact-create", args=[bugs.pk])).status_code == 403
    assert (
        client.post(reverse("tracker:artifact-create", args=[bugs.pk]), {"title": "Spam"}).status_code == 403
    )
    assert crash.changesets.count() == 1
    assert bugs.artifacts.count() == 1


def test_posting_without_a_csrf_token_is_refused(crash: Artifact, bob: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)
    assert client.post(artifact_url(crash), {"title": "Forged"}).status_code == 403
    crash.refresh_from_db()
    assert crash.title == "Crash on save"


# Watching ---------------------------------------------------------------------------------------------


def test_watch_and_unwatch(client_as, crash: Artifact, dave: User) -> None:
    client = client_as(dave)
    watch_url = reverse("tracker:artifact-watch", args=[crash.pk])
    assert "Watch</button>" in client.get(artifact_url(crash)).content.decode()
    page = client.post(watch_url, {"watch": "1"}, follow=True).content.decode()
    assert "You are watching this artifact" in page and "Unwatch</button>" in page
    assert ArtifactSubscription.objects.get(artifact=crash, user=dave).watching
    page = client.post(watch_url, {"watch": "0"}, follow=True).content.decode()
    assert "You no longer get emails about this artifact." in page
    assert not ArtifactSubscription.objects.get(artifact=crash, user=dave).watching
    assert client.get(watch_url).status_code == 405


# Attachments ----------------------------------------------------------------------------------------


@pytest.fixture
def report(tasks: Tracker, alice: User) -> Attachment:
    # The private tasks tracker has the default fields: give it a file field.
    add_field(tasks, name="files", label="Files", type=FieldType.FILES)
    artifact = create_artifact(
        tasks,
        author=alice,
        values={"title": "With a report"},
        uploads={
            "files": [SimpleUploadedFile('re"port\r\n.html', b"<script>x</script>", content_type="text/html")]
        },
    ).artifact
    return Attachment.objects.get(artifact=artifact)


def test_attachments_download_as_files_for_readers_only(
    client_as, report: Attachment, bob: User, dave: User
) -> None:
    url = reverse("tracker:attachment-download", args=[report.pk])
    response = client_as(bob).get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="report.html"'
    assert b"".join(response.streaming_content) == b"<script>x</script>"
    assert client_as(dave).get(url).status_code == 404


def test_a_missing_attachment_file_is_a_404(client_as, report: Attachment, bob: User) -> None:
    report.file.delete(save=False)
    assert client_as(bob).get(reverse("tracker:attachment-download", args=[report.pk])).status_code == 404


def test_a_done_status_is_shown_grey_on_the_artifact_page_as_in_the_list(
    client_as, bugs: Tracker, alice: User, bob: User
) -> None:
    done = create_artifact(bugs, author=alice, values={"title": "Fixed", "status": "Done"}).artifact
    open_ = create_artifact(bugs, author=alice, values={"title": "Open", "status": "New"}).artifact
    client = client_as(bob)

    done_page = client.get(artifact_url(done)).content.decode()
    open_page = client.get(artifact_url(open_)).content.decode()

    # "Done" means the work is over: the closed badge, never the tracker's (red-looking) colour.
    assert '<dd id="value-status"><span class="badge badge-closed">Done</span></dd>' in done_page
    assert 'id="value-status"><span class="badge badge-colored badge-status' in open_page

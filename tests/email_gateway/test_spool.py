"""The fast pipe (``python -I -m tracker.email_gateway.pipe``) and its spool: real pipe processes,
the spool stored by the LMTP process and by the supervisor's sweep, workers making the comments."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from django.utils import timezone

from tests.email_gateway.conftest import DOMAIN, build_reply, wait_for_records
from tests.support.smtp import SMTPServer
from tracker.email_gateway import ingest, processing, spool, tokens
from tracker.models import Changeset, InboundEmail, Tracker, User
from tracker.services.artifacts import create_artifact
from tracker.system_check import inbound_emails
from tracker.system_check.base import CheckContext
from tracker.workers import sweep

pytestmark = pytest.mark.slow


def spooled(directory: Path, folder: str = spool.NEW) -> list[Path]:
    return sorted((directory / folder).iterdir()) if (directory / folder).exists() else []


def imported_modules(importtime_output: str) -> set[str]:
    """The modules ``python -X importtime`` says it imported (``import time: self | total | name``)."""
    return {
        line.rsplit("|", 1)[1].strip()
        for line in importtime_output.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def test_the_pipe_spools_the_message_and_exits_0_without_importing_django(fast_pipe, spool_dir: Path) -> None:
    message = b"From: bob@example.com\r\nSubject: hi\r\n\r\nhello\r\n"

    done = fast_pipe(
        message, sender="bob@example.com", recipient=f"reply+x@{DOMAIN}", python_options=("-X", "importtime")
    )

    assert done.returncode == 0, done.stderr.decode()
    # It should leave one complete file in new/ and nothing half-written in tmp/.
    [path] = spooled(spool_dir)
    assert spooled(spool_dir, spool.TMP) == []
    assert spool.parse(path.read_bytes()) == ("bob@example.com", f"reply+x@{DOMAIN}", message)
    modules = imported_modules(done.stderr.decode())
    assert "tracker.email_gateway.spool" in modules  # the import log is the real one
    assert not {name for name in modules if name.split(".")[0] == "django"}
    assert "tuleap_backend.settings" not in modules


def test_the_pipe_exits_75_when_it_cannot_write_the_spool(fast_pipe, tmp_path: Path) -> None:
    # A file where the spool's directory should be: no user can write there, root included.
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")

    done = fast_pipe(b"Subject: hi\r\n\r\nhello\r\n", EMAIL_GATEWAY_SPOOL_DIR=str(blocker / "spool"))

    assert done.returncode == 75
    assert b"could not spool the message" in done.stderr and b"try again later" in done.stderr


def test_a_bad_size_limit_exits_75_and_keeps_the_message_with_the_mail_server(
    fast_pipe, spool_dir: Path
) -> None:
    done = fast_pipe(b"Subject: hi\r\n\r\nhello\r\n", EMAIL_GATEWAY_MAX_SIZE="lots")

    assert done.returncode == 75
    assert b"EMAIL_GATEWAY_MAX_SIZE" in done.stderr
    assert spooled(spool_dir) == []


def test_an_oversized_message_is_spooled_then_rejected_as_receive_email_does(
    gateway: str, settings, fast_pipe, spool_dir: Path, bob: User, redis_clean
) -> None:
    settings.EMAIL_GATEWAY_MAX_SIZE = 2048
    headers = f"From: {bob.email}\r\nTo: reply+x@{DOMAIN}\r\nSubject: big\r\n\r\n".encode()

    done = fast_pipe(headers + b"x" * 50_000, EMAIL_GATEWAY_MAX_SIZE="2048")

    assert done.returncode == 0, done.stderr.decode()
    # Only one byte more than the limit is read: enough to know it is too large.
    assert len(spool.parse(spooled(spool_dir)[0].read_bytes())[2]) == 2049
    assert ingest.ingest_spool() == 1
    [record] = InboundEmail.objects.all()
    assert record.size > 2048 and bytes(record.raw) == headers.rstrip(b"\r\n")
    assert processing.process(record.pk, record.job_id) == "rejected"
    record.refresh_from_db()
    assert "too large" in record.reason


def test_a_spool_file_stored_twice_makes_one_record(
    gateway: str, spool_dir: Path, alice: User, bugs: Tracker, bob: User, redis_clean
) -> None:
    artifact = create_artifact(bugs, author=alice, values={"title": "Crash"}, notify=False).artifact
    address = tokens.reply_address(bob.pk, artifact.pk)
    raw = f"From: {bob.email}\r\nTo: {address}\r\nSubject: Re: x\r\n\r\nOnce only.\r\n".encode()
    name = spool.write(spool_dir, raw, sender=bob.email, recipient=address)
    kept = spool_dir / "kept"
    shutil.copy(spool_dir / spool.NEW / name, kept)

    assert ingest.ingest_spool() == 1
    # A reader killed after its INSERT and before deleting the file: the file is back.
    shutil.copy(kept, spool_dir / spool.NEW / name)
    assert ingest.ingest_spool() == 0

    [record] = InboundEmail.objects.all()
    assert (record.spool_name, record.envelope_from, record.envelope_to) == (name, bob.email, address)
    assert bytes(record.raw) == raw
    assert spooled(spool_dir) == []  # the second reader only deleted the file
    assert processing.process(record.pk, record.job_id) == "processed"
    assert Changeset.objects.filter(artifact=artifact, is_creation=False).count() == 1


def test_the_system_check_warns_about_spool_files_nobody_stores(settings, spool_dir: Path) -> None:
    fresh = spool.write(spool_dir, b"Subject: new\r\n\r\n")
    context = CheckContext(now=timezone.now(), redis_url=settings.REDIS_URL)

    # It should say nothing of a file a reader will take within the second.
    assert inbound_emails.spool_waiting(context) == []

    old = spool_dir / spool.NEW / spool.write(spool_dir, b"Subject: old\r\n\r\n")
    ten_minutes_ago = time.time() - 600
    os.utime(old, (ten_minutes_ago, ten_minutes_ago))
    [finding] = inbound_emails.spool_waiting(context)

    assert (finding.level, finding.details["count"]) == ("WARNING", 2)
    assert finding.details["oldest_age_seconds"] > inbound_emails.SPOOL_WAIT_WARNING
    assert str(spool_dir) in finding.message and "manage.py email_gateway" in finding.message
    assert (spool_dir / spool.NEW / fresh).exists()  # the check reads, never takes


def reply_to_bob(saving, smtp: SMTPServer, bugs: Tracker, alice: User, bob: User, text: str):
    changeset = saving(create_artifact, bugs, author=alice, values={"title": "Crash", "cc": ["bob"]})
    [notification] = smtp.received
    address = str(notification.message["Reply-To"])
    return changeset.artifact, address, build_reply(notification, sender=bob.email, text=text)


def test_a_spooled_reply_becomes_one_comment_through_the_lmtp_process(
    gateway: str,
    saving,
    smtp: SMTPServer,
    fast_pipe,
    lmtp_server: int,
    gateway_worker,
    spool_dir: Path,
    bugs: Tracker,
    alice: User,
    bob: User,
) -> None:
    artifact, address, reply = reply_to_bob(saving, smtp, bugs, alice, bob, "Spooled, read by LMTP.")

    done = fast_pipe(reply, sender=bob.email, recipient=address)

    assert done.returncode == 0, done.stderr.decode()
    [record] = wait_for_records(1)
    assert (record.status, record.via, record.envelope_from) == ("processed", "pipe", bob.email), (
        record.reason
    )
    assert record.spool_name and record.envelope_to == address
    [comment] = Changeset.objects.filter(artifact=artifact, is_creation=False)
    assert (comment.author, comment.comment) == (bob, "Spooled, read by LMTP.")
    assert spooled(spool_dir) == []


def test_a_spooled_reply_becomes_one_comment_through_the_supervisors_sweep(
    gateway: str,
    saving,
    smtp: SMTPServer,
    fast_pipe,
    start_supervisor,
    spool_dir: Path,
    bugs: Tracker,
    alice: User,
    bob: User,
) -> None:
    artifact, address, reply = reply_to_bob(saving, smtp, bugs, alice, bob, "Spooled, read by the sweep.")

    done = fast_pipe(reply, sender=bob.email, recipient=address)
    assert done.returncode == 0, done.stderr.decode()
    # No LMTP process: only the supervisor's sweep reads the spool (its first sweep runs at start).
    start_supervisor(
        NB_BACKEND_WORKERS="0",
        ASYNC_EMAILS="",
        EMAIL_GATEWAY_DOMAIN=DOMAIN,
        EMAIL_GATEWAY_SPOOL_DIR=str(spool_dir),
    )

    [record] = wait_for_records(1)
    assert (record.status, record.envelope_from) == ("processed", bob.email), record.reason
    [comment] = Changeset.objects.filter(artifact=artifact, is_creation=False)
    assert (comment.author, comment.comment) == (bob, "Spooled, read by the sweep.")
    assert spooled(spool_dir) == []


def test_each_host_stores_its_own_spool_while_another_holds_the_sweep_lock(
    gateway: str, spool_dir: Path, alice: User, bugs: Tracker, bob: User, redis_clean
) -> None:
    artifact = create_artifact(bugs, author=alice, values={"title": "Crash"}, notify=False).artifact
    address = tokens.reply_address(bob.pk, artifact.pk)
    raw = f"From: {bob.email}\r\nTo: {address}\r\nSubject: Re: x\r\n\r\nFrom the mail host.\r\n".encode()
    name = spool.write(spool_dir, raw, sender=bob.email, recipient=address)
    other_host = sweep.sweep_lock(60)
    assert other_host.acquire()
    try:
        # The mail host never wins the lock: the sweep skips its turn there, and the local drain that
        # its supervisor's tick runs before the sweep still stores what its pipe spooled.
        assert sweep.run_once("mail-host") == "skipped"
        assert InboundEmail.objects.count() == 0
        sweep.drain_local_spool("mail-host")
    finally:
        other_host.release()

    [record] = InboundEmail.objects.all()
    assert record.spool_name == name and bytes(record.raw) == raw
    assert spooled(spool_dir) == []

"""The email gateway's spool: a maildir-style directory the pipe writes and the readers empty.

No Django here (``tracker.email_gateway.pipe`` imports this module and must start in milliseconds:
nothing beyond the standard library's lightest modules).

Layout (``EMAIL_GATEWAY_SPOOL_DIR``): ``tmp/`` and ``new/``, as in a maildir (https://cr.yp.to/proto/
maildir.html): a message is written to ``tmp/<name>``, fsynced, then renamed into ``new/<name>`` and the
directory fsynced, so a file in ``new/`` is always complete and survives a power cut once the writer
exited 0 (rename is atomic within a filesystem, POSIX rename(2)). A reader stores the file as an inbound
record whose ``spool_name`` is ``<name>`` (unique), then deletes it; a reader that dies between the two
finds the record already there the next time and only deletes the file.

A spool file: one line of JSON, the envelope (``{"sender": ..., "recipient": ...}``; JSON escapes any
line break in them), a newline, then the message exactly as the mail server gave it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

TMP = "tmp"
NEW = "new"
# Maildir readers remove tmp/ files older than this: what a writer left when it died half-way.
TMP_LIFETIME = 36 * 3600
# What fits InboundEmail.spool_name (255) with room to spare, whatever the host name.
NAME_MAX = 200


class Spooled(NamedTuple):
    """One message read back from ``new/``."""

    name: str
    path: Path
    sender: str
    recipient: str
    raw: bytes


def unique_name() -> str:
    """``<seconds>.M<microseconds>P<pid>R<random>.<host>``: the maildir convention for a unique name.

    The host's ``/`` and ``:`` are escaped as maildir says (``\\057``, ``\\072``).
    """
    now = time.time()
    # os.uname() rather than socket.gethostname(): the same name, without importing socket.
    host = os.uname().nodename.replace("/", "\\057").replace(":", "\\072") or "localhost"
    name = f"{int(now)}.M{int(now * 1e6) % 1_000_000}P{os.getpid()}R{os.urandom(8).hex()}.{host}"
    return name[:NAME_MAX]


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write(directory: Path, raw: bytes, *, sender: str = "", recipient: str = "") -> str:
    """Spool one message; its name once it is in ``new/`` for good. Raises OSError (unwritable, full)."""
    tmp, new = directory / TMP, directory / NEW
    directory.mkdir(mode=0o750, parents=True, exist_ok=True)
    for folder in (tmp, new):
        folder.mkdir(mode=0o750, exist_ok=True)
    name = unique_name()
    envelope = json.dumps({"sender": sender, "recipient": recipient}, ensure_ascii=True).encode()
    path = tmp / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    try:
        try:
            view = memoryview(envelope + b"\n" + raw)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(path, new / name)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    _fsync_directory(new)
    return name


def parse(data: bytes) -> tuple[str, str, bytes]:
    """``(sender, recipient, message)`` of a spool file's content.

    A file without our envelope line (written by hand, say) is all message, with an empty envelope.
    """
    first, newline, rest = data.partition(b"\n")
    if newline:
        try:
            envelope = json.loads(first)
        except ValueError:
            envelope = None
        if isinstance(envelope, dict):
            return str(envelope.get("sender") or ""), str(envelope.get("recipient") or ""), rest
    return "", "", data


def waiting(directory: Path, limit: int | None = None) -> Iterator[Spooled]:
    """The messages in ``new/``, oldest name first (names start with the time), up to ``limit``.

    A file gone meanwhile (another reader took it) is skipped.
    """
    try:
        names = sorted(entry.name for entry in os.scandir(directory / NEW) if entry.is_file())
    except FileNotFoundError:
        return
    for name in names[:limit]:
        path = directory / NEW / name
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue
        sender, recipient, raw = parse(data)
        yield Spooled(name, path, sender, recipient, raw)


def remove(spooled: Spooled) -> None:
    spooled.path.unlink(missing_ok=True)


def oldest(directory: Path) -> tuple[int, float | None]:
    """How many messages wait in ``new/``, and the mtime of the oldest (None when none wait)."""
    count, first = 0, None
    try:
        entries = list(os.scandir(directory / NEW))
    except FileNotFoundError:
        return 0, None
    for entry in entries:
        try:
            mtime = entry.stat().st_mtime
        except FileNotFoundError:
            continue
        count += 1
        first = mtime if first is None else min(first, mtime)
    return count, first


def remove_abandoned(directory: Path, now: float | None = None) -> int:
    """Delete ``tmp/`` files older than TMP_LIFETIME (a writer died before its rename); how many."""
    now = time.time() if now is None else now
    removed = 0
    try:
        entries = list(os.scandir(directory / TMP))
    except FileNotFoundError:
        return 0
    for entry in entries:
        try:
            if entry.stat().st_mtime < now - TMP_LIFETIME:
                os.unlink(entry.path)
                removed += 1
        except FileNotFoundError:
            continue
    return removed

"""The email gateway's fast pipe: ``python -I -m tracker.email_gateway.pipe --sender S --recipient R``.

What a mail server's pipe transport runs, one process per message, instead of ``manage.py
receive_email`` when it must return at once: no Django, no settings module, no database, no Redis. It
reads one message on standard input, writes it to the spool (``tracker.email_gateway.spool``) and exits;
the LMTP process (``manage.py email_gateway``, about every second) or the workers' recovery sweep stores
it as an inbound record and hands it to a worker.

Configuration from the environment only, read by ``tuleap_backend.env`` as the settings read it:
``EMAIL_GATEWAY_SPOOL_DIR`` and ``EMAIL_GATEWAY_MAX_SIZE``. ``-I`` (isolated mode) keeps ``PYTHON*``
variables and the current directory out of the import path: the interpreter must be the project's
virtualenv, where the project is installed.

Exit status (sysexits, what Postfix and Exim understand): 0 once the message is fsynced and renamed
into the spool, whatever becomes of it later; 75 (EX_TEMPFAIL) when it could not be written (spool
unwritable, disk full, a configuration error), so the mail server keeps it and tries again. A message
over EMAIL_GATEWAY_MAX_SIZE is treated as ``receive_email`` treats it: only the first
EMAIL_GATEWAY_MAX_SIZE + 1 bytes are read, it is accepted (0), and the record keeps its headers and is
rejected with the reason by the worker.
"""

from __future__ import annotations

import argparse
import sys

from tracker.email_gateway import spool
from tuleap_backend.env import ConfigurationError, Env, email_gateway_spool

EX_OK = 0
EX_TEMPFAIL = 75


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -I -m tracker.email_gateway.pipe",
        description="Spool one email read on standard input for the email gateway (exit 0), or exit 75.",
    )
    parser.add_argument("--sender", default="", help="The envelope sender (Postfix: ${sender}).")
    parser.add_argument("--recipient", default="", help="The envelope recipient (${original_recipient}).")
    options = parser.parse_args(argv)
    try:
        config = email_gateway_spool(Env())
    except ConfigurationError as error:
        sys.stderr.write(f"email gateway pipe: {error}; the message is kept for later.\n")
        return EX_TEMPFAIL
    try:
        # One byte more than the limit is enough to know it is too large; the rest is not read.
        raw = sys.stdin.buffer.read(config.max_size + 1)
        spool.write(config.directory, raw, sender=options.sender, recipient=options.recipient)
    except OSError as error:
        # The mail server keeps the message and tries again (Postfix: deferred, "4.3.0").
        sys.stderr.write(
            f"email gateway pipe: could not spool the message in {config.directory} "
            f"({error.strerror or type(error).__name__}); try again later.\n"
        )
        return EX_TEMPFAIL
    return EX_OK


if __name__ == "__main__":
    raise SystemExit(main())

"""Loading, once in each worker process, what every job would otherwise load again.

An RQ worker forks a fresh work horse for each job: whatever the worker process has not loaded yet,
each horse loads again and throws away. The first ``reverse()`` alone imports the whole URL
configuration (the API, its schema generator...), a few hundred milliseconds per job on a small server.
"""

from __future__ import annotations

import logging

logger = logging.getLogger("tracker.workers")

TEMPLATES = ("emails/artifact-body.txt", "emails/artifact-body.html")


def warm_up() -> None:
    from django.core.mail.utils import DNS_NAME
    from django.template.loader import get_template
    from django.urls import NoReverseMatch, reverse

    try:
        reverse("tracker:artifact-detail", args=[1])  # imports and indexes every URL pattern
        for name in TEMPLATES:
            get_template(name)
        DNS_NAME.get_fqdn()  # the host name Django puts in emails, a DNS lookup the first time
    except (NoReverseMatch, ImportError, OSError) as error:
        # Only slower jobs: never a reason not to start.
        logger.warning("Worker warm-up incomplete: %s", error)

"""The tracker's own Django system checks (``tracker.W001``...), repeated in every system event.

``manage.py check --deploy`` is run at deploy time; this keeps a configuration problem visible in
the periodic report and on the system events page afterwards.
"""

from __future__ import annotations

from django.core import checks

from tracker.system_check.base import CheckContext, Finding, Level

NAME = "configuration"


def run(context: CheckContext) -> list[Finding]:
    findings = []
    for message in checks.run_checks(include_deployment_checks=True):
        if not (message.id or "").startswith("tracker.") or message.is_silenced():
            continue
        if message.level >= checks.ERROR:
            level = Level.ERROR
        elif message.level >= checks.WARNING:
            level = Level.WARNING
        else:
            level = Level.INFO
        hint = f" {message.hint}" if message.hint else ""
        findings.append(Finding(NAME, level, f"{message.msg}{hint} ({message.id})", {"id": message.id}))
    return findings

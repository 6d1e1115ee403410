"""The project page's Jira imports in progress, for the include ``tracker/includes/pending_imports.html``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.db.models import Q
from django.utils import timezone

from tracker import permissions
from tracker.models import JiraImport, Project

register = template.Library()

# How long a failed import stays on the project page for its administrators, so that they notice it.
RECENT_FAILURES = dt.timedelta(days=1)


@register.simple_tag(takes_context=True)
def project_jira_imports(context: dict[str, Any], project: Project) -> list[JiraImport]:
    """The project's active imports (for its readers), and its recent failures (for its administrators)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or project is None or not permissions.can_read_project(user, project):
        return []
    shown = Q(status__in=JiraImport.ACTIVE)
    if permissions.can_admin_project(user, project):
        shown |= Q(status=JiraImport.Status.FAILED, ended_at__gte=timezone.now() - RECENT_FAILURES)
    return list(
        JiraImport.objects.filter(shown, project=project)
        .select_related("requested_by")
        .prefetch_related("planned_trackers")
        .order_by("created_at", "id")
    )

"""Template filters of the time entries: durations and the names of people (imported ones too)."""

from __future__ import annotations

from django import template

from tracker.models import User
from tracker.services.time_entries import format_duration
from tracker.services.value_rendering import person_name as name_of

register = template.Library()


@register.filter
def duration(seconds: object) -> str:
    return format_duration(seconds if isinstance(seconds, int) else 0)


@register.filter
def person_name(user: object) -> str:
    return name_of(user) if isinstance(user, User) else ""

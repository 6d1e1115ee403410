"""Template helpers of the web UI: tracker colors, drawn without any style attribute.

The Content-Security-Policy allows no inline style (``style-src 'self'``), so a tracker's color cannot
go into a ``style="..."`` attribute. It goes into an SVG ``fill`` instead: a presentation attribute,
which the policy does not govern, and which needs no script.
"""

from __future__ import annotations

import re

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()

COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
DEFAULT_COLOR = "#1f77b4"


@register.filter
def safe_color(value: object) -> str:
    """The color if it is a plain #rrggbb, else the default: it goes into markup."""
    return value if isinstance(value, str) and COLOR.match(value) else DEFAULT_COLOR


@register.filter
def text_color_on(value: object) -> str:
    """Black or white, whichever reads better on the given background color."""
    color = safe_color(value)
    red, green, blue = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    # Relative luminance, close enough for choosing between black and white text.
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    return "#1a1a1a" if luminance > 150 else "#ffffff"


@register.filter
def get_color(colors: object, key: object) -> str:
    """``colors[key]`` for a dict of colour keys (the template language cannot index by a variable)."""
    return colors.get(key, "") if isinstance(colors, dict) else ""


@register.filter
def is_multiple_choice(bound_field: object) -> bool:
    """Radio buttons and checkbox lists get a fieldset and legend instead of a single label."""
    return getattr(bound_field, "widget_type", "") in {"radioselect", "checkboxselectmultiple"}


@register.simple_tag
def color_dot(color: object) -> SafeString:
    """A small disc of the tracker's color."""
    return format_html(
        '<svg class="color-dot" viewBox="0 0 10 10" aria-hidden="true" focusable="false">'
        '<circle cx="5" cy="5" r="5" fill="{}"/></svg>',
        safe_color(color),
    )


@register.simple_tag
def color_badge(text: object, color: object, kind: str = "badge-tracker") -> SafeString:
    """A badge with the tracker's color behind the text, black or white on it."""
    fill = safe_color(color)
    on = "badge-on-light" if text_color_on(fill) == "#1a1a1a" else "badge-on-dark"
    return format_html(
        '<span class="badge badge-colored {} {}"><svg class="badge-fill" viewBox="0 0 1 1" '
        'preserveAspectRatio="none" aria-hidden="true" focusable="false"><rect width="1" height="1" '
        'fill="{}"/></svg>{}</span>',
        kind,
        on,
        fill,
        text,
    )

"""Template helpers of the web UI: tracker colors that are safe to put in a style attribute."""

from __future__ import annotations

import re

from django import template

register = template.Library()

COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
DEFAULT_COLOR = "#1f77b4"


@register.filter
def safe_color(value: object) -> str:
    """The color if it is a plain #rrggbb, else the default: it goes into a style attribute."""
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
def is_multiple_choice(bound_field: object) -> bool:
    """Radio buttons and checkbox lists get a fieldset and legend instead of a single label."""
    return getattr(bound_field, "widget_type", "") in {"radioselect", "checkboxselectmultiple"}

"""Markdown as people write it in comments and imported descriptions: task lists, tables, the budget.

One renderer (tracker.services.rendering) for the stored comments, the edited imported texts and the
preview; these tests read its output as a browser or a mail client would get it.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from tracker.services.rendering import (
    Budget,
    BudgetExceeded,
    markdown_to_html,
    render_comment,
    sanitize_html,
)
from tracker.services.rich_text import markdown_to_stored_html


class _Inputs(HTMLParser):
    """The <input> tags of a document, each as its attributes, and the text after each."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[dict[str, str | None]] = []
        self.after: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "input":
            self.inputs.append(dict(attrs))
            self.after.append("")

    def handle_data(self, data: str) -> None:
        if self.after:
            self.after[-1] += data


def inputs_of(html: str) -> _Inputs:
    parser = _Inputs()
    parser.feed(html)
    return parser


DISABLED_BOX = {"type": "checkbox", "disabled": "disabled", "aria-label": "Task"}
CHECKED_BOX = {**DISABLED_BOX, "checked": "checked"}

TASKS = "Before the release:\n\n- [ ] write the notes\n- [x] tag the build\n"


def test_a_task_list_renders_as_disabled_check_boxes() -> None:
    html = render_comment(TASKS, "markdown")

    # It should show one box per task, the done one checked, none of them clickable.
    found = inputs_of(html)
    assert found.inputs == [DISABLED_BOX, CHECKED_BOX]
    assert [text.strip() for text in found.after] == ["write the notes", "tag the build"]
    # The plugin's classes are not needed (CSS finds the boxes) and are not let through.
    assert "class=" not in html


def test_an_edited_imported_description_keeps_its_task_list() -> None:
    # Imported rich text is edited as Markdown and stored through the same renderer.
    html = markdown_to_stored_html(TASKS)

    assert inputs_of(html).inputs == [DISABLED_BOX, CHECKED_BOX]


def test_brackets_that_are_not_a_task_stay_text() -> None:
    html = render_comment("- [link] is not a task\n- [ ]no space is not one either", "markdown")

    assert "<input" not in html
    assert "[link] is not a task" in html


def test_a_markdown_table_renders_as_a_table() -> None:
    html = render_comment("| Step | Who |\n| --- | --- |\n| build | bob |\n| ship | carol |\n", "markdown")

    assert "<table>" in html
    assert "<th>Step</th>" in html
    assert "<td>carol</td>" in html


@pytest.mark.parametrize(
    "source",
    [
        '<input type="text" name="password" value="x">',
        '<input type="checkbox" onclick="steal()" class="task" name="x" checked>',
        '<input type="submit" formaction="https://evil.example/">',
    ],
)
def test_any_input_in_imported_html_becomes_a_disabled_check_box(source: str) -> None:
    html = sanitize_html(source)

    # It should keep nothing that takes input, submits, or runs a script.
    (box,) = inputs_of(html).inputs
    assert box in (DISABLED_BOX, CHECKED_BOX)


def test_raw_html_in_markdown_is_escaped_not_run() -> None:
    html = render_comment(
        '<script>alert(1)</script>\n\n- [ ] <input type="text" autofocus onfocus="alert(2)">', "markdown"
    )

    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # The task's own box is the only input: the typed one is text.
    assert html.count("<input") == 1
    assert "&lt;input" in html


def test_the_budget_still_applies_to_task_lists() -> None:
    # A task list past the time budget is kept as escaped text with a note, like any Markdown.
    html = render_comment("- [x] done\n" * 200, "markdown", Budget(seconds=0))

    assert "Shown as plain text: it took too long to format." in html
    assert "<input" not in html
    assert "- [x] done" in html


def test_the_budget_bounds_nesting_inside_a_task_list() -> None:
    nested = "".join("  " * depth + "- [ ] level\n" for depth in range(40))

    with pytest.raises(BudgetExceeded, match="nests too deeply"):
        markdown_to_html(nested)

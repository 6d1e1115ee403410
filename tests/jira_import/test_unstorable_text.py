"""What Jira may send that we cannot store (NUL, lone surrogates, ids too long): left out where read."""

from __future__ import annotations

import json

import pytest

from tests.support.fake_jira import render
from tests.support.jira import BUG, artifact_by_key, credentials_for, new_import, readable
from tracker.jira_import import discovery, services, storable_json
from tracker.jira_import.client import connect
from tracker.models import Changeset, ChangesetValue


def test_an_issue_with_nul_characters_is_imported_without_them(cloud, public_project, alice) -> None:
    """On PostgreSQL (CI) the NUL was a DataError that failed the whole import."""
    cloud.data.edit("DEMO-3").change("alice", summary="Crash\x00 in the parser").comment(
        "alice", "The log says:\x00\x00 segfault"
    )
    jira_import = services.run_import(new_import(cloud, public_project, alice, BUG))
    assert jira_import.status == "done", jira_import.error

    artifact = artifact_by_key(jira_import.tracker, "DEMO-3")
    assert readable(artifact)["title"] == "Crash in the parser"
    comments = list(Changeset.objects.filter(artifact=artifact).values_list("comment", flat=True))
    # Imported as Jira rendered it (HTML).
    assert [text for text in comments if "segfault" in text] == ["<p>The log says: segfault</p>"]
    # Nothing anywhere in the tracker's history still holds one.
    values = ChangesetValue.objects.filter(changeset__artifact__tracker=jira_import.tracker)
    assert not [value for value in values.values_list("value", flat=True) if "\x00" in json.dumps(value)]
    assert not any("\x00" in text for text in comments)


def test_issue_type_names_with_a_nul_reach_the_wizard_without_it(cloud, monkeypatch) -> None:
    """The wizard looks its suggested tracker names up by name: a NUL was a 500 on every load of step 3."""
    named = render.Renderer.issue_type

    def with_nul(self, name):
        answer = named(self, name)
        return {**answer, "name": f"{answer['name']}\x00!"}

    monkeypatch.setattr(render.Renderer, "issue_type", with_nul)
    names = [issue_type.name for issue_type in discovery.issue_types(connect(credentials_for(cloud)), "DEMO")]
    assert "Bug!" in names
    assert not [name for name in names if "\x00" in name]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (rb'{"summary": "a\u0000b"}', {"summary": "ab"}),
        (rb'{"summary": "half \ud800 pair"}', {"summary": "half \ufffd pair"}),
        (rb'{"summary": "\ud83d\ude00 kept"}', {"summary": "\U0001f600 kept"}),  # a whole pair
        (
            rb'{"na\u0000me": ["x\uDFFF", 1, null, {"k": "\u0000"}]}',
            {"name": ["x\ufffd", 1, None, {"k": ""}]},
        ),
        (rb'{"plain": "text \\u0000 written out"}', {"plain": "text \\u0000 written out"}),
    ],
)
def test_answers_are_made_storable_where_they_are_read(raw: bytes, expected: object) -> None:
    assert storable_json.loads(raw) == expected


def test_an_answer_that_is_no_json_is_still_a_value_error() -> None:
    with pytest.raises(ValueError):
        storable_json.loads(b'{"summary": "\\u0000')


def test_an_issue_type_whose_id_is_no_jira_id_is_not_offered(cloud, monkeypatch) -> None:
    """A 60-digit id was offered, then a 500 when the import was created (its column holds 50)."""
    typed = render.Renderer.issue_type

    def long_id(self, name):
        answer = typed(self, name)
        return {**answer, "id": "9" * 60} if answer["name"] == "Epic" else answer

    monkeypatch.setattr(render.Renderer, "issue_type", long_id)
    names = [issue_type.name for issue_type in discovery.issue_types(connect(credentials_for(cloud)), "DEMO")]
    assert "Bug" in names and "Epic" not in names

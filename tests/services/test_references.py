"""References in text (`bug #42`, `art #42`, `#42`, Jira keys) linked for one reader, in stored HTML."""

from __future__ import annotations

import pytest

from tracker.models import Artifact, JiraIssueRecord, Tracker, User
from tracker.services.artifacts import create_artifact
from tracker.services.references import Mentions, ReadableTargets, linked_texts, mentions_in
from tracker.services.rendering import render_comment


@pytest.fixture
def target(bugs: Tracker, alice: User) -> Artifact:
    return create_artifact(bugs, author=alice, values={"title": "Crash"}).artifact


@pytest.fixture
def secret(tasks: Tracker, alice: User) -> Artifact:
    return create_artifact(tasks, author=alice, values={"title": "Secret plan"}).artifact


def test_it_finds_ids_and_jira_keys_in_text_only() -> None:
    html = (
        '<p>bug #1, art #2 and #3; DI-7. <a href="/x/#4">#5</a> <code>#6</code></p>'
        "<pre>#7</pre><p>&#42; issue#8 (#9) UTF-8 is-not DI-10a</p>"
    )
    assert mentions_in([html]) == Mentions(frozenset({1, 2, 3, 9}), frozenset({"DI-7", "UTF-8"}))


def test_it_links_only_what_the_reader_may_read(
    target: Artifact, secret: Artifact, bob: User, carol: User
) -> None:
    html = render_comment(f"See bug #{target.pk} and task #{secret.pk}.", "text")
    [for_bob] = linked_texts(bob, [html])
    [for_carol] = linked_texts(carol, [html])
    assert f'<a href="{secret.get_absolute_url()}"' in for_bob
    assert f'<a href="{target.get_absolute_url()}"' in for_carol
    # It should leave what carol may not read as written: no link, no title.
    assert f"task #{secret.pk}." in for_carol and "Secret plan" not in for_carol


def test_a_word_that_is_not_a_keyword_stays_prose(target: Artifact, bob: User) -> None:
    [html] = linked_texts(bob, [f"<p>see #{target.pk}</p>"])
    assert html == (
        f'<p>see <a href="{target.get_absolute_url()}" class="reference" '
        f'title="bug #{target.pk} Crash">#{target.pk}</a></p>'
    )


def test_text_inside_links_and_code_is_left_alone(target: Artifact, bob: User) -> None:
    html = render_comment(f"[bug #{target.pk}](https://example.com/) and `#{target.pk}`", "markdown")
    assert linked_texts(bob, [html]) == [html]


def test_an_attribute_holding_a_reference_is_left_alone(target: Artifact, bob: User) -> None:
    # nh3 leaves ">" unescaped inside a quoted attribute: the tag must be read whole.
    html = f'<p><a href="https://example.com/" title="x > bug #{target.pk}">there</a> bug #{target.pk}</p>'
    [linked] = linked_texts(bob, [html])
    assert linked.count('class="reference"') == 1
    assert linked.startswith(f'<p><a href="https://example.com/" title="x > bug #{target.pk}">there</a> <a ')


def test_an_ambiguous_jira_key_names_nothing(bugs: Tracker, alice: User, bob: User) -> None:
    first, second = (create_artifact(bugs, author=alice, values={"title": t}).artifact for t in ("A", "B"))
    for site, artifact in (("https://one.example.com", first), ("https://two.example.com", second)):
        JiraIssueRecord.objects.create(
            jira_site=site, jira_issue_id="1", jira_issue_key="DI-1", artifact=artifact
        )
    third = create_artifact(bugs, author=alice, values={"title": "C"}).artifact
    JiraIssueRecord.objects.create(
        jira_site="https://one.example.com", jira_issue_id="2", jira_issue_key="DI-2", artifact=third
    )
    [html] = linked_texts(bob, ["<p>DI-1 and DI-2</p>"])
    assert html.startswith("<p>DI-1 and <a ") and f'title="bug #{third.pk} C">DI-2</a>' in html


def test_one_query_for_every_reference_of_the_page(
    target: Artifact, secret: Artifact, bob: User, django_assert_num_queries
) -> None:
    texts = [f"<p>#{target.pk} #{secret.pk}</p>", f"<p>bug #{target.pk} #999999</p>"] * 10
    with django_assert_num_queries(1):
        linked = linked_texts(bob, texts)
    assert all('class="reference"' in html for html in linked)
    # Jira-like keys are looked up first: one more query, whatever their number.
    with django_assert_num_queries(2):
        linked_texts(bob, [*texts, *(f"<p>DI-{number}</p>" for number in range(20))])
    with django_assert_num_queries(0):
        assert linked_texts(bob, ["<p>nothing to see</p>"]) == ["<p>nothing to see</p>"]


def test_nobody_logged_in_gets_no_links(target: Artifact) -> None:
    from django.contrib.auth.models import AnonymousUser

    targets = ReadableTargets.load(AnonymousUser(), Mentions(frozenset({target.pk})))
    assert targets.link(f"<p>#{target.pk}</p>") == f"<p>#{target.pk}</p>"


def test_readable_by_all_asks_every_reader(
    target: Artifact, secret: Artifact, bob: User, carol: User, admin_user: User, django_assert_num_queries
) -> None:
    from tracker.permissions import artifacts_readable_by_all

    ids = {target.pk, secret.pk}
    with django_assert_num_queries(2):
        assert artifacts_readable_by_all([bob, admin_user], ids) == ids
    assert artifacts_readable_by_all([bob, carol], ids) == {target.pk}
    carol.is_active = False
    # An inactive account reads nothing: such a group is told no names at all.
    assert artifacts_readable_by_all([bob, carol], ids) == set()

"""The options of an imported select field, found by Jira id or label: the import's OptionResolver.

Jira announces a field's values in its create metadata (they are the options the tracker is created
with); its history may name others, gone from its configuration since, which are added when met.
"""

from __future__ import annotations

from typing import Any

from tracker.models import Field, FieldOption


class Options:
    """A select field's options, found by Jira id or label; values Jira did not announce are added."""

    def __init__(self, field_: Field, announced: list[tuple[str, str]]) -> None:
        self.field = field_
        self.by_label: dict[str, int] = {}
        self.next_rank = 0
        for option in FieldOption.objects.filter(field=field_).order_by("rank", "id"):
            self.by_label.setdefault(option.label.casefold(), option.pk)
            self.next_rank = max(self.next_rank, option.rank + 1)
        self.by_jira_id: dict[str, int] = {}
        for jira_id, label in announced:
            pk = self.by_label.get(label.casefold())
            if jira_id and pk is not None:
                self.by_jira_id[jira_id] = pk

    def resolve(self, jira_id: Any, label: Any) -> int | None:
        if jira_id is not None and str(jira_id) in self.by_jira_id:
            return self.by_jira_id[str(jira_id)]
        text = " ".join(str(label).split())[:255] if label is not None else ""
        if not text:
            return None
        pk = self.by_label.get(text.casefold())
        if pk is None:
            # A value gone from Jira's configuration (an archived version, a deleted option) that the
            # history still names. Created outside the page's transaction: a rolled-back page must not
            # leave this cache pointing at a row that no longer exists.
            option, _ = FieldOption.objects.get_or_create(
                field=self.field, label=text, defaults={"rank": self.next_rank}
            )
            self.next_rank += 1
            pk = self.by_label[text.casefold()] = option.pk
        if jira_id is not None:
            self.by_jira_id[str(jira_id)] = pk
        return pk

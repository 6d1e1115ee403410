"""Who is who: Jira users matched to platform accounts by email.

A Jira user whose email is shared and matches exactly one active account here (whatever the case) is
that account, as author and as value of user fields. Anyone else gets a placeholder account
(:class:`~tracker.models.JiraPerson`: inactive, no email, no password, one per Jira site and user)
holding their display name, so the history, user values and emails name them
"<display name> (Jira)"; their name is also kept next to what they wrote
(``Changeset.imported_author_name``). A Jira user with no id at all is the "Jira importer" user.
The import's user report lists the three groups: matched, email hidden, no account here.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from tracker.jira_import.client import JiraClient
from tracker.jira_import.errors import JiraAccessError
from tracker.models import JiraPerson, User

logger = logging.getLogger("tracker.jira_import")

IMPORTER_USERNAME = "jira-importer"
# Placeholder accounts: "jira.<hash>", their last name marks where they come from (see
# tracker.services.value_rendering.person_name, which names them "<display name> (Jira)").
PLACEHOLDER_PREFIX = "jira."
PLACEHOLDER_MARK = "(Jira)"
MAX_LOOKUPS = 1000  # users known only from the changelog, looked up once each


@dataclass(frozen=True)
class Person:
    user_id: int
    display_name: str
    matched: bool

    @property
    def imported_name(self) -> str:
        """What a changeset keeps when the author is the importer user ("X said:")."""
        return "" if self.matched else self.display_name


def importer_user() -> User:
    """The stand-in for Jira users without an account here: it cannot log in and gets no email."""
    user = User.objects.filter(username=IMPORTER_USERNAME).first()
    if user is None:
        user = User(username=IMPORTER_USERNAME, first_name="Jira", last_name="importer", is_active=False)
        user.set_unusable_password()
        user.save()
    return user


def reference(user: dict[str, Any]) -> str:
    """How the changelog names a user: the account id on Cloud, the user key on Server."""
    return str(user.get("accountId") or user.get("key") or user.get("name") or "")


class People:
    """Matches each Jira user once per import, and remembers the report."""

    def __init__(
        self, client: JiraClient | None, report: dict[str, Any] | None = None, *, site: str = ""
    ) -> None:
        self.client = client
        self.site = site.rstrip("/").lower()
        self._importer: User | None = None
        self._by_ref: dict[str, Person] = {}
        self._lookups = 0
        report = report or {}
        # Seeded from an interrupted run, so a resumed import reports everyone it met.
        self.matched: dict[str, dict[str, str]] = {e["jira"]: e for e in report.get("matched", [])}
        self.email_hidden: set[str] = set(report.get("email_hidden", []))
        self.no_account: dict[str, dict[str, str]] = {e["jira"]: e for e in report.get("no_account", [])}

    @property
    def importer(self) -> User:
        if self._importer is None:
            self._importer = importer_user()
        return self._importer

    def _match(self, user: dict[str, Any]) -> Person:
        name = str(user.get("displayName") or user.get("name") or "Unknown Jira user").strip()[:255]
        email = str(user.get("emailAddress") or "").strip()
        if email:
            accounts = list(
                User.objects.filter(email__iexact=email, is_active=True).only("pk", "username")[:2]
            )
            if len(accounts) == 1:
                self.matched[name] = {"jira": name, "user": accounts[0].username}
                return Person(accounts[0].pk, name, True)
            self.no_account[name] = {"jira": name, "email": email[:254]}
        else:
            self.email_hidden.add(name)
        ref = reference(user)
        return Person(self._placeholder(ref, name) if ref else self.importer.pk, name, False)

    def _placeholder(self, ref: str, name: str) -> int:
        """The placeholder account of a Jira user (created once per site and user, renamed if needed)."""
        site = self.site or (self.client.base_url.lower() if self.client is not None else "")
        ref = ref[:255]
        known = JiraPerson.objects.filter(jira_site=site, reference=ref).select_related("user").first()
        if known is None:
            digest = hashlib.sha256(f"{site}\n{ref}".encode()).hexdigest()[:16]
            try:
                with transaction.atomic():
                    user = User(
                        username=f"{PLACEHOLDER_PREFIX}{digest}",
                        first_name=name[:150],
                        last_name=PLACEHOLDER_MARK,
                        is_active=False,
                    )
                    user.set_unusable_password()
                    user.save()
                    JiraPerson.objects.create(jira_site=site, reference=ref, display_name=name, user=user)
                return user.pk
            except IntegrityError:  # another import of the same site made it meanwhile
                known = JiraPerson.objects.select_related("user").get(jira_site=site, reference=ref)
        if known.display_name != name:
            JiraPerson.objects.filter(pk=known.pk).update(display_name=name)
            User.objects.filter(pk=known.user_id).update(first_name=name[:150])
        return known.user_id

    def person(self, user: dict[str, Any] | None) -> Person | None:
        """The person for a user object of an issue, comment or history (None for nobody)."""
        if not isinstance(user, dict):
            return None
        ref = reference(user)
        known = self._by_ref.get(ref) if ref else None
        if known is None:
            known = self._match(user)
            if ref:
                self._by_ref[ref] = known
        return known

    def by_reference(self, ref: str | None, display_name: str | None) -> Person | None:
        """The person the changelog names by account id (Cloud) or user key (Server)."""
        ref = (ref or "").strip()
        if not ref:
            return None
        known = self._by_ref.get(ref)
        if known is not None:
            return known
        user: dict[str, Any] = {"displayName": display_name or ref}
        if self.client is not None and self._lookups < MAX_LOOKUPS:
            self._lookups += 1
            params = {"accountId": ref} if self.client.is_cloud else {"key": ref}
            try:
                found = self.client.get_json("user", params, what="looking up a user of the history")
                if isinstance(found, dict):
                    user = found
            except JiraAccessError as error:
                # A deleted user, or one these credentials may not see: they stay a name.
                logger.info("Jira user %s could not be looked up: %s", ref, error)
        known = self._match(user)
        self._by_ref[ref] = known
        return known

    def report(self) -> dict[str, Any]:
        return {
            "matched": sorted(self.matched.values(), key=lambda e: e["jira"].casefold()),
            "email_hidden": sorted(self.email_hidden, key=str.casefold),
            "no_account": sorted(self.no_account.values(), key=lambda e: e["jira"].casefold()),
        }

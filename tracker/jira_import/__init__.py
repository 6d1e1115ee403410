"""Creating trackers from a Jira project (every issue type, or those chosen), in a backend worker.

- ``services``: what the wizard, the REST API and ``manage.py import_jira`` call; ``jobs``: the RQ job.
- ``runs``: the life of an import's row (``JiraImport``) and its trackers' rows, from creation to its end.
- ``importer``: one run, putting the rest to work: ``discovery`` (what a Jira site offers), ``survey``
  (which fields the issues carry, before any tracker exists), ``mapping`` (which fields the trackers
  get), ``fetch`` (everything that takes the network), ``replay`` (an issue as planned changesets,
  with ``options`` and ``people`` for select values and users, ``links`` for its links, ``adf`` for
  Atlassian Document Format bodies), ``sprints`` (the sprint field and the agile API), ``records``
  (what each Jira issue, entry, comment, work log and attachment became), written in bulk by
  :mod:`tracker.services.bulk_import`.
- ``client`` (Jira over HTTP, every request under a wall-clock ``deadline``; errors name the field to
  correct), ``url_guard`` (no internal addresses), ``credentials`` (what a header can carry),
  ``vault`` (the token at rest), ``emails`` (the requester's email when an import ends).
"""

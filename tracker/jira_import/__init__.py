"""Creating a tracker from a Jira project, in a backend worker.

- ``services``: what the wizard, the REST API and ``manage.py import_jira`` call; ``jobs``: the RQ job.
- ``runs``: the life of an import's row (``JiraImport``), from creation to its end.
- ``importer``: one run, putting the rest to work: ``discovery`` (what a Jira site offers), ``mapping``
  (which fields the tracker gets), ``fetch`` (everything that takes the network), ``replay`` (an issue
  as planned changesets, with ``options`` and ``people`` for select values and users), written in
  bulk by :mod:`tracker.services.bulk_import`.
- ``client`` (Jira over HTTP; errors name the field to correct), ``url_guard`` (no internal
  addresses), ``credentials`` (what a header can carry), ``vault`` (the token at rest), ``emails``
  (the requester's email when an import ends).
"""

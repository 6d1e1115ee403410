"""Prometheus monitoring: one ``/metrics`` endpoint for the web and every worker, on every host.

- ``store``: counters and histograms aggregated across processes and hosts in Redis (its client and
  its "skip Redis after a failure" breaker come from ``tracker.queues``).
- ``metrics``: the metric definitions and the ``record_*`` functions the rest of the code calls, at the
  one place each event happens: the artifact_saved receiver, the notifier (emails sent and failed), the
  system check's service (events ended), the Jira import, and ``rq_hooks``.
- ``rq_hooks``: queue, worker and job classes that count queue events without the jobs knowing.
- ``collectors``: gauges computed at scrape time from the database and Redis.
- ``auth`` and ``views``: the basic-auth protected ``GET /metrics``.
"""

"""Prometheus monitoring: one ``/metrics`` endpoint for the web and every worker, on every host.

- ``store``: counters and histograms aggregated across processes and hosts in Redis.
- ``metrics``: the metric definitions and the ``record_*`` functions the rest of the code calls.
- ``rq_hooks``: queue, worker and job classes that count queue events without the jobs knowing.
- ``collectors``: gauges computed at scrape time from the database and Redis.
- ``auth`` and ``views``: the basic-auth protected ``GET /metrics``.
"""

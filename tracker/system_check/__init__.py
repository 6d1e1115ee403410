"""``manage.py system_check``: the periodic health check of notifications, workers, Redis and imports.

One module per check, each a ``run(context) -> list[Finding]``; ``service.run_system_check`` runs them
all inside a SYSTEM_CHECK event. See the README for scheduling it (systemd timer or cron).
"""

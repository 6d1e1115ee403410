"""Email notifications of artifact changes, sent inline or by backend workers (ASYNC_EMAILS).

Where things are:

- ``routing``: which projects notify through workers (``settings.ASYNC_EMAILS.covers(project_id)``);
- ``dispatch``: the signal receivers' targets: write the record in the changeset's transaction, then
  send inline or enqueue the job after the commit (falling back to inline when Redis is down);
- ``jobs``: the RQ job (ids only) and its failure callback;
- ``notifier``: claim the record, find recipients, send, record each delivered address, end; it counts
  the emails sent and the failed attempts itself (``tracker.monitoring.metrics``);
- ``records``: the NotificationRecord / NotificationDelivery writes, and the delivery journal in Redis;
- ``recipients``: who gets an email, one function per rule;
- ``emails``: the messages (templates ``templates/emails/``), their headers and recipient groups;
- ``mailer``: one SMTP connection per job, and "try again" versus "give up".

Elsewhere: ``tracker.queues`` builds the Redis client and the queue, and holds the job's options
(``enqueue_notification``: job id, timeout, retries, this package's failure callback, TTLs);
``tracker.workers`` runs the workers.
"""

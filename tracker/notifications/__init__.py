"""Email notifications of artifact changes, sent inline or by backend workers (ASYNC_EMAILS).

Where things are:

- ``routing``: which projects notify through workers (``settings.ASYNC_EMAILS.covers(project_id)``);
- ``dispatch``: the signal receivers' targets: write the record in the changeset's transaction, then
  send inline or enqueue the job after the commit (falling back to inline when Redis is down);
- ``jobs``: the RQ jobs (a record's, a batch's; ids only) and their failure callbacks;
- ``notifier``: claim the record, find recipients, send, record each delivered address, end; it counts
  the emails sent and the failed attempts itself (``tracker.monitoring.metrics``);
- ``sending``: the steps of an attempt a record and a batch share (what is still to send, the author's
  limit, the groups' delivery loop);
- ``records``: the NotificationRecord / NotificationDelivery writes (claim, claim the waiting ones,
  finish, fail, retry later, hand back, re-open);
- ``handover``: the recovery sweep's moves (requeue, take over, wake), for records and batches alike;
- ``ordering``: the per-artifact order (``waits_for_earlier``, ``hold``, ``next_look``);
- ``drain``: a job also sends the changesets queued behind its own (NOTIFICATION_JOB_CHANGESETS);
- ``batches``: the NotificationBatch rows of a big changeset (split once, then claim, finish, fail,
  retry later each batch; end the record with its last batch);
- ``fanout``: the batch job's sending (NOTIFICATION_BATCH_SIZE recipients per job, shared by the workers);
- ``journal``: the delivery journal in Redis (addresses accepted, written the moment they are);
- ``schedule``: the retry schedule (growing pauses, give up after NOTIFICATION_GIVE_UP_AFTER);
- ``recovery``: the notification side of the recovery sweep (lost jobs, due retries, dead senders, the
  mail server back), run by ``tracker.workers.sweep``;
- ``resend``: re-opening ended records (``manage.py resend_notifications``, the admin action);
- ``recipients``: who gets an email, one function per rule;
- ``emails``: the messages (templates ``templates/emails/``), their headers and recipient groups;
- ``mailer``: one SMTP connection, and "try again" versus "give up";
- ``connection_pool``: the SMTP connections a worker keeps from job to job (NOOP before reuse, closed
  when idle and on shutdown), and a job's recipients over up to NOTIFICATION_SMTP_CONNECTIONS of them.

Elsewhere: ``tracker.queues`` builds the Redis client and the queue, and holds the job's options
(``enqueue_notification``: job id, timeout, this package's failure callback, TTLs; no RQ retries);
``tracker.workers`` runs the workers.
"""

"""Email notifications of artifact changes, sent inline or by backend workers (ASYNC_EMAILS).

Where things are:

- ``routing``: which projects notify through workers (ASYNC_EMAILS);
- ``dispatch``: the signal receivers' targets: write the record in the changeset's transaction, then
  send inline or enqueue the job after the commit (falling back to inline when Redis is down);
- ``jobs``: the RQ job (ids only) and its failure callback;
- ``notifier``: claim the record, find recipients, send, record each delivered address, end;
- ``records``: the NotificationRecord / NotificationDelivery writes;
- ``recipients``: who gets an email, one function per rule;
- ``emails``: the messages (templates ``templates/emails/``), their headers and recipient groups;
- ``mailer``: one SMTP connection per job, and "try again" versus "give up".
"""

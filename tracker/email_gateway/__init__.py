"""The email gateway: replies to notifications become comments, messages to a tracker become artifacts.

- ``tokens``: the signed ``reply+<token>@domain`` address each notification carries in ``Reply-To``;
- ``inbound``: the one owner of an ``InboundEmail`` row's life (store, claim, finish, purge);
- ``receive``: what ``manage.py receive_email`` and the LMTP server (``lmtp``) do: store, then enqueue;
- ``pipe``: the Django-free pipe that only writes the ``spool``; ``ingest`` stores the spool (the LMTP
  process every second, the recovery sweep);
- ``parsing`` (the message, its new text, its attachments) and ``safety`` (auto-replies, bounces, loops);
- ``processing``: the worker's job, which routes a message to a comment or a new artifact;
- ``answers``: the one short explanation a rejected sender gets per hour;
- ``recovery``: records whose job Redis lost, and the purge of raw messages after retention.
"""

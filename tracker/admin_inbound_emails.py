"""The Django admin of the email gateway's inbound records: read-only, with "process again".

Imported by ``tracker/admin.py`` (kept apart so that module stays readable).
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from tracker.email_gateway import inbound, receive
from tracker.models import InboundEmail


@admin.register(InboundEmail)
class InboundEmailAdmin(admin.ModelAdmin):
    list_display = ("id", "received_at", "status", "reason", "from_address", "envelope_to", "via", "attempts")
    list_filter = ("status", "via", "answered")
    search_fields = ("from_address", "envelope_to", "subject", "reason", "message_id")
    date_hierarchy = "received_at"
    exclude = ("raw",)
    readonly_fields = (
        "via",
        "envelope_from",
        "envelope_to",
        "size",
        "raw_purged_at",
        "from_address",
        "message_id",
        "subject",
        "status",
        "reason",
        "received_at",
        "processed_at",
        "claimed_at",
        "attempts",
        "job_id",
        "changeset",
        "answered",
        "raw_text",
    )
    actions = ("process_again",)

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="Raw message (first 20,000 characters)")
    def raw_text(self, obj: InboundEmail) -> str:
        if obj.raw_purged_at is not None:
            return f"Purged on {obj.raw_purged_at:%Y-%m-%d} (EMAIL_GATEWAY_RETENTION_DAYS)."
        return bytes(obj.raw)[:20_000].decode("utf-8", errors="replace")

    @admin.action(description="Process the selected messages again")
    def process_again(self, request: HttpRequest, queryset: QuerySet[InboundEmail]) -> None:
        rows = inbound.reopen(list(queryset.values_list("pk", flat=True)))
        queued = sum(1 for row in rows if receive.enqueue(row))
        skipped = queryset.count() - len(rows)
        self.message_user(
            request,
            f"{len(rows)} messages handed to the workers ({queued} queued now, the rest by the sweep)"
            + (f"; {skipped} skipped: their raw message was purged." if skipped else "."),
        )

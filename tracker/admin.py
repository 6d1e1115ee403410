"""The Django admin: configuration objects are editable, history and outbox rows are read-only.

Artifacts and changesets are never written here: a save would bypass the artifact service (no
changeset, no notification, a stale ``current_values`` snapshot). They are created and edited on
the tracker pages of the site, or through the API.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from tracker import permissions
from tracker.models import (
    Artifact,
    ArtifactSubscription,
    Attachment,
    Changeset,
    ChangesetValue,
    Field,
    FieldOption,
    JiraImport,
    Membership,
    NotificationDelivery,
    NotificationListEntry,
    NotificationRecord,
    Project,
    SystemEvent,
    Tracker,
    User,
)
from tracker.services.history import artifact_view

ARTIFACT_HELP = (
    "Artifacts are created and edited on the tracker pages of the site (or through the API), which "
    "record each change in the artifact's history and notify the people concerned. Here they can only "
    "be viewed or deleted."
)


class ViewOnlyMixin:
    """Rows written by the application itself: visible (and deletable) but never edited by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# Accounts and projects -------------------------------------------------------------------------


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (*DjangoUserAdmin.fieldsets, ("Notifications", {"fields": ("notify_own_changes",)}))
    list_display = (
        "username",
        "email",
        "first_name",
        "last_name",
        "is_staff",
        "is_active",
        "notify_own_changes",
    )
    list_filter = (*DjangoUserAdmin.list_filter, "notify_own_changes")


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("name", "shortname", "is_public", "created_on")
    list_filter = ("is_public",)
    search_fields = ("name", "shortname")
    inlines = (MembershipInline,)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "project", "role")
    list_filter = ("role", "project")
    search_fields = ("user__username", "user__email", "project__name", "project__shortname")
    autocomplete_fields = ("user", "project")
    list_select_related = ("user", "project")


# Trackers and their configuration ---------------------------------------------------------------


class FieldInline(admin.TabularInline):
    model = Field
    extra = 0
    fields = ("rank", "label", "name", "type", "required", "notify", "is_title")
    show_change_link = True


def confirm_added_by_site_admin(request: HttpRequest, entry: NotificationListEntry) -> None:
    """A plain address a site admin adds is confirmed (permissions.address_needs_confirmation)."""
    trusted = not permissions.address_needs_confirmation(request.user)
    if entry.email and entry.confirmed_at is None and trusted:
        entry.confirmed_at = timezone.now()


class NotificationListEntryInline(admin.TabularInline):
    model = NotificationListEntry
    extra = 0
    autocomplete_fields = ("user",)
    readonly_fields = ("confirmed_at",)


@admin.register(Tracker)
class TrackerAdmin(admin.ModelAdmin):
    list_display = ("name", "shortname", "project", "color", "accepts_email", "created_on")
    list_filter = ("project",)
    search_fields = ("name", "shortname", "project__name")
    list_select_related = ("project",)
    inlines = (FieldInline, NotificationListEntryInline)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is NotificationListEntry:
            for entry in formset.save(commit=False):
                confirm_added_by_site_admin(request, entry)
                entry.save()
            for entry in formset.deleted_objects:
                entry.delete()
            return
        super().save_formset(request, form, formset, change)


class FieldOptionInline(admin.TabularInline):
    model = FieldOption
    extra = 0


@admin.register(Field)
class FieldAdmin(admin.ModelAdmin):
    list_display = ("label", "name", "tracker", "type", "required", "notify", "rank")
    list_filter = ("type", "required", "notify")
    search_fields = ("label", "name", "tracker__name")
    list_select_related = ("tracker__project",)
    inlines = (FieldOptionInline,)


@admin.register(FieldOption)
class FieldOptionAdmin(admin.ModelAdmin):
    list_display = ("label", "field", "rank", "is_closed")
    list_filter = ("is_closed",)
    search_fields = ("label", "field__label")
    list_select_related = ("field__tracker__project",)


@admin.register(NotificationListEntry)
class NotificationListEntryAdmin(admin.ModelAdmin):
    list_display = ("__str__", "tracker", "on_creation_only", "confirmed_at")
    list_filter = ("on_creation_only",)
    search_fields = ("email", "user__username", "user__email", "tracker__name")
    autocomplete_fields = ("user",)
    list_select_related = ("tracker__project", "user")
    readonly_fields = ("confirmed_at", "confirmation_sent_at")

    def save_model(self, request: HttpRequest, obj: NotificationListEntry, form: Any, change: bool) -> None:
        confirm_added_by_site_admin(request, obj)
        super().save_model(request, obj, form, change)


# Artifacts and their history (read-only) ---------------------------------------------------------


class ChangesetInline(ViewOnlyMixin, admin.TabularInline):
    model = Changeset
    extra = 0
    fields = ("submitted_on", "author", "is_creation", "comment_format", "comment")
    readonly_fields = fields
    show_change_link = True
    can_delete = False


class AttachmentInline(ViewOnlyMixin, admin.TabularInline):
    model = Attachment
    extra = 0
    fields = ("filename", "size", "content_type", "submitted_by", "submitted_on")
    readonly_fields = fields
    can_delete = False


@admin.register(Artifact)
class ArtifactAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = ("reference", "title", "tracker", "submitted_by", "last_updated_on")
    list_filter = ("tracker__project", "tracker")
    search_fields = ("title",)
    list_select_related = ("tracker__project", "submitted_by")
    date_hierarchy = "last_updated_on"
    fieldsets = (
        (
            None,
            {
                "description": ARTIFACT_HELP,
                "fields": (
                    "tracker",
                    "title",
                    "current_values_display",
                    "submitted_by",
                    "submitted_on",
                    "last_updated_by",
                    "last_updated_on",
                    "jira_issue_id",
                ),
            },
        ),
    )
    readonly_fields = (
        "tracker",
        "title",
        "current_values_display",
        "submitted_by",
        "submitted_on",
        "last_updated_by",
        "last_updated_on",
        "jira_issue_id",
    )
    inlines = (ChangesetInline, AttachmentInline)

    @admin.display(description="Reference")
    def reference(self, artifact: Artifact) -> str:
        return artifact.reference

    @admin.display(description="Current values")
    def current_values_display(self, artifact: Artifact) -> str:
        rows = [(field_.label, text or "—") for field_, _, text, _ in artifact_view(artifact).current()]
        return format_html("<table>{}</table>", format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows))


class ChangesetValueInline(ViewOnlyMixin, admin.TabularInline):
    model = ChangesetValue
    extra = 0
    fields = ("field", "value")
    readonly_fields = fields
    can_delete = False


@admin.register(Changeset)
class ChangesetAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = ("__str__", "artifact", "author", "submitted_on", "is_creation")
    list_filter = ("is_creation", "comment_format")
    search_fields = ("comment", "author__username", "imported_author_name")
    list_select_related = ("artifact__tracker", "author")
    date_hierarchy = "submitted_on"
    readonly_fields = (
        "artifact",
        "author",
        "imported_author_name",
        "submitted_on",
        "is_creation",
        "comment",
        "comment_format",
    )
    inlines = (ChangesetValueInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Changeset]:
        return super().get_queryset(request).select_related("artifact__tracker")


@admin.register(Attachment)
class AttachmentAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = ("filename", "artifact", "size", "content_type", "submitted_by", "submitted_on")
    search_fields = ("filename",)
    list_select_related = ("artifact__tracker", "submitted_by")
    # No link to the file itself: attachments are only served by the permission-checked view.
    exclude = ("file",)
    readonly_fields = (
        "artifact",
        "filename",
        "size",
        "content_type",
        "submitted_by",
        "submitted_on",
        "jira_attachment_id",
    )


@admin.register(ArtifactSubscription)
class ArtifactSubscriptionAdmin(admin.ModelAdmin):
    list_display = ("user", "artifact", "watching")
    list_filter = ("watching",)
    search_fields = ("user__username", "user__email")
    autocomplete_fields = ("user",)
    raw_id_fields = ("artifact",)
    list_select_related = ("user", "artifact__tracker")


# Notifications and system events (written by the application) ------------------------------------


@admin.register(NotificationRecord)
class NotificationRecordAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = (
        "changeset",
        "mode",
        "status",
        "created_at",
        "ended_at",
        "attempts",
        "recipient_count",
        "fell_back_inline",
        "next_attempt_at",
        "last_failure",
    )
    list_filter = ("status", "mode", "fell_back_inline", "last_failure")
    date_hierarchy = "created_at"
    list_select_related = ("changeset",)
    actions = ("resend_selected",)

    @admin.action(description="Send the selected ended notifications again (delivered addresses skipped)")
    def resend_selected(self, request: HttpRequest, queryset: QuerySet[NotificationRecord]) -> None:
        from tracker.notifications import resend

        chosen = resend.selection(
            failed=False, changeset_ids=list(queryset.values_list("changeset_id", flat=True))
        )
        result = resend.resend(chosen, by=f"the admin action of {request.user}")
        skipped = queryset.count() - result.count
        self.message_user(
            request,
            f"Re-opened {result.count} notifications; {result.queued} handed to the workers"
            + (f"; {skipped} not ended yet, left as they are." if skipped else "."),
        )


@admin.register(NotificationDelivery)
class NotificationDeliveryAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = ("address", "changeset", "sent_at")
    search_fields = ("address",)
    date_hierarchy = "sent_at"
    list_select_related = ("changeset",)


@admin.register(SystemEvent)
class SystemEventAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = ("pk", "type", "status", "created_at", "started_at", "ended_at")
    list_filter = ("status", "type")
    date_hierarchy = "created_at"


@admin.register(JiraImport)
class JiraImportAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = (
        "__str__",
        "project",
        "requested_by",
        "status",
        "progress_done",
        "progress_total",
        "created_at",
    )
    list_filter = ("status", "flavor")
    search_fields = ("jira_project_key", "tracker_name", "project__name")
    date_hierarchy = "created_at"
    list_select_related = ("project", "requested_by")
    # Never shown, even encrypted: the token is a credential of someone's Jira account.
    exclude = ("token_encrypted",)


# The email gateway's inbound records, in a module of their own.
from tracker import admin_inbound_emails  # noqa: E402, F401

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, path, register_converter

from tracker.web import (
    accounts,
    address_confirmation,
    artifacts,
    attachment_images,
    field_admin,
    jira_import,
    jira_import_pages,
    jira_update_pages,
    my_work,
    people,
    preview,
    projects,
    saved_queries,
    system,
    time_entries,
    tracker_admin,
    tracker_email,
    trackers,
)


class IdConverter:
    """A database id: digits only, and few enough that no database overflows on the lookup (a 404)."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "dbid")

app_name = "tracker"

urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", projects.project_list, name="project-list"),
    path("account/", accounts.profile, name="profile"),
    path("account/password/", accounts.password_change, name="password-change"),
    path("account/preferences/", accounts.preferences, name="preferences"),
    path("account/email/confirm/<str:token>/", accounts.email_confirm, name="email-confirm"),
    path("my-work/", my_work.my_work_page, name="my-work"),
    path("system/events/", system.system_events, name="system-events"),
    path("people/", people.people_search, name="people-search"),
    # Projects
    # Before the project pattern: "new" is a reserved short name (ProjectCreateForm).
    path("projects/new/", projects.project_create, name="project-create"),
    path("projects/<slug:shortname>/", projects.project_detail, name="project-detail"),
    path("projects/<slug:shortname>/members/", projects.project_members, name="project-members"),
    path(
        "projects/<slug:shortname>/members/<dbid:user_id>/role/",
        projects.member_role,
        name="project-member-role",
    ),
    path(
        "projects/<slug:shortname>/members/<dbid:user_id>/remove/",
        projects.member_remove,
        name="project-member-remove",
    ),
    path("projects/<slug:shortname>/trackers/new/", trackers.tracker_create, name="tracker-create"),
    # Jira import: the wizard, then the import's own pages
    path("projects/<slug:shortname>/trackers/new/jira/", jira_import.import_start, name="jira-import-start"),
    path(
        "projects/<slug:shortname>/trackers/new/jira/project/",
        jira_import.import_project,
        name="jira-import-project",
    ),
    path(
        "projects/<slug:shortname>/trackers/new/jira/issue-type/",
        jira_import.import_issue_type,
        name="jira-import-issue-type",
    ),
    path(
        "projects/<slug:shortname>/trackers/new/jira/abandon/",
        jira_import.import_abandon,
        name="jira-import-abandon",
    ),
    path("jira-imports/<dbid:pk>/", jira_import_pages.import_detail, name="jira-import-detail"),
    path("jira-imports/<dbid:pk>/status/", jira_import_pages.import_status, name="jira-import-status"),
    path("jira-imports/<dbid:pk>/cancel/", jira_import_pages.import_cancel, name="jira-import-cancel"),
    path("jira-imports/<dbid:pk>/update/", jira_update_pages.update_start, name="jira-import-update"),
    path("jira-updates/<dbid:pk>/cancel/", jira_update_pages.update_cancel, name="jira-update-cancel"),
    path("jira-imports/<dbid:pk>/sync/", jira_update_pages.sync_start, name="jira-import-sync"),
    path("jira-imports/<dbid:pk>/sync/stop/", jira_update_pages.sync_stop, name="jira-import-sync-stop"),
    # Trackers and their administration
    path("trackers/<dbid:pk>/", trackers.tracker_detail, name="tracker-detail"),
    path("trackers/<dbid:pk>/saved-queries/", saved_queries.saved_query_create, name="saved-query-create"),
    path("saved-queries/<dbid:pk>/delete/", saved_queries.saved_query_delete, name="saved-query-delete"),
    path("trackers/<dbid:pk>/artifacts/new/", artifacts.artifact_create, name="artifact-create"),
    path("trackers/<dbid:pk>/preview/", preview.markdown_preview, name="markdown-preview"),
    path("trackers/<dbid:pk>/admin/", tracker_admin.tracker_admin, name="tracker-admin"),
    path("trackers/<dbid:pk>/admin/fields/", tracker_admin.field_create, name="field-create"),
    path("trackers/<dbid:pk>/admin/email/", tracker_email.email_creation, name="tracker-email-creation"),
    path(
        "trackers/<dbid:pk>/admin/notifications/",
        tracker_admin.notification_add,
        name="notification-add",
    ),
    path("fields/<dbid:pk>/", tracker_admin.field_edit, name="field-edit"),
    path("fields/<dbid:pk>/move/", tracker_admin.field_move, name="field-move"),
    path("fields/<dbid:pk>/options/", tracker_admin.option_create, name="field-option-create"),
    path("fields/<dbid:pk>/hide/", field_admin.field_hide, name="field-hide"),
    path("fields/<dbid:pk>/delete/", field_admin.field_delete, name="field-delete"),
    path("options/<dbid:pk>/", field_admin.option_update, name="option-update"),
    path("options/<dbid:pk>/move/", field_admin.option_move, name="option-move"),
    path("options/<dbid:pk>/hide/", field_admin.option_hide, name="option-hide"),
    path("options/<dbid:pk>/delete/", field_admin.option_delete, name="option-delete"),
    path(
        "notifications/<dbid:pk>/remove/",
        tracker_admin.notification_remove,
        name="notification-remove",
    ),
    path(
        "notifications/<dbid:pk>/send-confirmation/",
        tracker_admin.notification_send_confirmation,
        name="notification-send-confirmation",
    ),
    # Linked from the confirmation email: no login, the signed token is the proof.
    path(
        "notifications/confirm/<str:token>/",
        address_confirmation.confirm_address,
        name="notification-confirm",
    ),
    # Artifacts
    path("artifacts/<dbid:pk>/", artifacts.artifact_detail, name="artifact-detail"),
    path("artifacts/<dbid:pk>/watch/", artifacts.artifact_watch, name="artifact-watch"),
    path("artifacts/<dbid:pk>/time-entries/", time_entries.time_entry_add, name="time-entry-add"),
    path("attachments/<dbid:pk>/", artifacts.attachment_download, name="attachment-download"),
    path(
        "attachments/<dbid:pk>/<slug:variant>/", attachment_images.attachment_image, name="attachment-image"
    ),
]

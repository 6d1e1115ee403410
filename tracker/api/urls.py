from __future__ import annotations

from django.urls import URLPattern, URLResolver, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from tracker.api.errors import not_found
from tracker.api.views import (
    artifacts,
    auth,
    jira_imports,
    jira_updates,
    projects,
    time_entries,
    trackers,
    users,
)

app_name = "api"

urlpatterns: list[URLPattern | URLResolver] = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI only: drf-spectacular's Redoc page loads its fonts from Google, and we serve every asset.
    # The split view serves its start-up script as a file (?script): the CSP refuses inline scripts.
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api:schema", template_name="api/swagger_ui.html"),
        name="docs",
    ),
    path("auth/token/", auth.TokenLogin.as_view(), name="token-login"),
    path("users/", users.UserList.as_view(), name="user-list"),
    path("projects/", projects.ProjectList.as_view(), name="project-list"),
    path("projects/<int:pk>/", projects.ProjectDetail.as_view(), name="project-detail"),
    path("projects/<int:pk>/members/", projects.ProjectMembers.as_view(), name="project-members"),
    path("projects/<int:pk>/trackers/", trackers.ProjectTrackers.as_view(), name="project-trackers"),
    path("trackers/<int:pk>/", trackers.TrackerDetail.as_view(), name="tracker-detail"),
    path("trackers/<int:pk>/artifacts/", trackers.TrackerArtifacts.as_view(), name="tracker-artifacts"),
    path("artifacts/", artifacts.ArtifactCreate.as_view(), name="artifact-create"),
    path("artifacts/<int:pk>/", artifacts.ArtifactDetail.as_view(), name="artifact-detail"),
    path(
        "artifacts/<int:pk>/changesets/", artifacts.ArtifactChangesets.as_view(), name="artifact-changesets"
    ),
    path(
        "artifacts/<int:pk>/time-entries/",
        time_entries.ArtifactTimeEntries.as_view(),
        name="artifact-time-entries",
    ),
    path(
        "projects/<int:pk>/jira-imports/",
        jira_imports.ProjectJiraImports.as_view(),
        name="project-jira-imports",
    ),
    path("jira-imports/<int:pk>/", jira_imports.JiraImportDetail.as_view(), name="jira-import-detail"),
    path("jira-imports/<int:pk>/cancel/", jira_imports.JiraImportCancel.as_view(), name="jira-import-cancel"),
    path("jira-imports/<int:pk>/update/", jira_updates.JiraImportUpdate.as_view(), name="jira-import-update"),
    path("jira-imports/<int:pk>/sync/", jira_updates.JiraImportSync.as_view(), name="jira-import-sync"),
    path("jira-updates/<int:pk>/", jira_updates.JiraUpdateDetail.as_view(), name="jira-update-detail"),
    path("jira-updates/<int:pk>/cancel/", jira_updates.JiraUpdateCancel.as_view(), name="jira-update-cancel"),
    path("jira/projects/", jira_imports.JiraProjectLookup.as_view(), name="jira-projects"),
    path("jira/issue-types/", jira_imports.JiraIssueTypeLookup.as_view(), name="jira-issue-types"),
    # Last: every other /api/ URL answers a JSON 404 (and no slash-appending redirect that drops a POST).
    re_path(r"^.*$", not_found),
]

"""The site's URLs plus a stand-in for the Jira import's start page, as once that feature exists."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from tracker.web.urls import urlpatterns as web_urlpatterns


def jira_import_start(request: HttpRequest, shortname: str) -> HttpResponse:
    return HttpResponse("Jira import")


urlpatterns = [
    path(
        "",
        include(
            (
                [
                    *web_urlpatterns,
                    path(
                        "projects/<slug:shortname>/trackers/import/jira/",
                        jira_import_start,
                        name="jira-import-start",
                    ),
                ],
                "tracker",
            )
        ),
    ),
]

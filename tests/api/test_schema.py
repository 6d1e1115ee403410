"""The OpenAPI schema and the documentation pages, served by the app itself (no CDN)."""

from __future__ import annotations

import re

from django.contrib.staticfiles import finders
from django.test import Client


def test_schema_describes_every_endpoint(client: Client) -> None:
    response = client.get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert set(paths) == {
        "/api/auth/token/",
        "/api/users/",
        "/api/projects/",
        "/api/projects/{id}/",
        "/api/projects/{id}/members/",
        "/api/artifacts/{id}/time-entries/",
        "/api/projects/{id}/trackers/",
        "/api/trackers/{id}/",
        "/api/trackers/{id}/artifacts/",
        "/api/artifacts/",
        "/api/artifacts/{id}/",
        "/api/artifacts/{id}/changesets/",
        "/api/projects/{id}/jira-imports/",
        "/api/jira-imports/{id}/",
        "/api/jira-imports/{id}/cancel/",
        "/api/jira/projects/",
        "/api/jira/issue-types/",
        "/api/jira-imports/{id}/update/",
        "/api/jira-imports/{id}/sync/",
        "/api/jira-updates/{id}/",
        "/api/jira-updates/{id}/cancel/",
    }
    assert set(paths["/api/artifacts/{id}/"]) == {"get", "patch"}
    assert "tokenAuth" in response.json()["components"]["securitySchemes"]


def test_documentation_page_loads_every_asset_from_the_app(client: Client) -> None:
    response = client.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "cdn" not in html.lower()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets, "the page should load its scripts and styles"
    for asset in assets:
        # It should reference our own static files only, each of which exists, and the split Swagger
        # view's init script, which the app serves itself (the CSP allows no inline script).
        if asset.startswith("/api/docs/?script="):
            assert client.get(asset).status_code == 200
            continue
        assert asset.startswith("/static/"), asset
        assert finders.find(asset.removeprefix("/static/")), asset

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from tracker.monitoring import views as metrics_views

urlpatterns = [
    path("admin/rq/", include("django_rq.urls")),
    path("admin/", admin.site.urls),
    path("api/", include("tracker.api.urls")),
    path("metrics", metrics_views.metrics, name="metrics"),
    path("", include("tracker.web.urls")),
]

# JSON under /api/, Django's HTML pages elsewhere.
handler400 = "tracker.api.errors.bad_request"
handler403 = "tracker.api.errors.permission_denied"
handler404 = "tracker.api.errors.page_not_found"
handler500 = "tracker.api.errors.server_error"

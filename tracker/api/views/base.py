"""What every API view shares: JSON in and out, and querysets that are empty while the schema is built."""

from __future__ import annotations

from rest_framework.generics import GenericAPIView
from rest_framework.renderers import JSONRenderer

from tracker.api.parsers import StrictJSONParser


class JsonApiView(GenericAPIView):
    # A JSON API only: forms and the browsable API add shapes of input nobody tests (see /api/docs/).
    parser_classes = [StrictJSONParser]
    renderer_classes = [JSONRenderer]

    @property
    def building_schema(self) -> bool:
        """drf-spectacular instantiates views without a real request to describe them."""
        return getattr(self, "swagger_fake_view", False)

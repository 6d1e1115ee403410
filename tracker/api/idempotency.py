"""``Idempotency-Key`` for the API's writes: a repeated request answers what the first one did.

A client that lost an answer (a timeout, a proxy error, a connection reset after the commit) can send
the same request again with the same header and be sure it creates nothing twice. The rules, the ones
Stripe and the IETF draft (draft-ietf-httpapi-idempotency-key-header) describe:

- keys are per user and live 24 hours (``KEY_LIFETIME``); a user's expired keys are purged when they
  send a new one;
- the key row is written in the same transaction as the write it protects, with the answer, so the
  answer is stored if and only if the write is; a replay returns the same status and body, with
  ``Idempotent-Replayed: true``;
- the same key with another request (method, path or body) is refused with 422; while the first request
  with a key is still running, a second one waits for it on the key's unique index (both databases
  serialize the two INSERTs) and then replays its answer.

Answers are built inside the transaction (``perform``), before the commit: once the data is committed,
nothing that can fail is left, so a database going away at that moment cannot turn a stored write into
a 500 that invites a duplicate.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from tracker.models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_LIFETIME = IdempotencyKey.LIFETIME
MAX_KEY_LENGTH = 255

# What the perform callable returns: the status, the body, and the id of the artifact it wrote.
Answer = tuple[int, dict[str, Any], int | None]

PARAMETER = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "Any unique string (a UUID) chosen by the client: the same request sent again with the same key "
        "within 24 hours returns the first answer and changes nothing."
    ),
)
RESPONSES = {
    422: OpenApiResponse(
        OpenApiTypes.OBJECT, description="The Idempotency-Key was used for another request."
    ),
}


def _fingerprint(request: Request) -> str:
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def _key_of(request: Request) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise ValidationError({HEADER: [f"Use 1 to {MAX_KEY_LENGTH} printable ASCII characters."]})
    return key


def _replay(stored: IdempotencyKey, fingerprint: str) -> Response:
    if stored.fingerprint != fingerprint:
        return Response(
            {"detail": f"This {HEADER} was already used for a different request; use a new key."},
            status=status.HTTP_422_UNPROCESSABLE_ENTITY,
        )
    response = Response(stored.response, status=stored.status_code)
    response[REPLAYED_HEADER] = "true"
    return response


def run(request: Request, perform: Callable[[], Answer]) -> Response:
    """Run ``perform`` (the write and its answer) in one transaction, at most once per key."""
    key = _key_of(request)
    if key is None:
        with transaction.atomic():
            code, body, _ = perform()
        return Response(body, status=code)
    user = request.user
    fingerprint = _fingerprint(request)
    IdempotencyKey.objects.filter(user=user, created_at__lt=timezone.now() - KEY_LIFETIME).delete()
    stored = IdempotencyKey.objects.filter(user=user, key=key).first()
    if stored is not None:
        return _replay(stored, fingerprint)
    try:
        with transaction.atomic():
            row = IdempotencyKey.objects.create(user=user, key=key, fingerprint=fingerprint)
            code, body, artifact_id = perform()
            IdempotencyKey.objects.filter(pk=row.pk).update(
                status_code=code, response=body, artifact_id=artifact_id
            )
    except IntegrityError:
        # Another request with this key committed first (we waited for it on the unique index).
        stored = IdempotencyKey.objects.filter(user=user, key=key).first()
        if stored is None:
            raise
        return _replay(stored, fingerprint)
    return Response(body, status=code)

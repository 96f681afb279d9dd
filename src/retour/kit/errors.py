"""Typed business errors. Each carries an HTTP status and a machine code; mapped in one place."""

from __future__ import annotations

from typing import Any


class RetourError(Exception):
    status = 400
    code = "bad_request"
    title = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        field: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        self.field = field
        self.extra = extra or {}


class NotFound(RetourError):
    """What does not exist or is not yours (never leak which)."""

    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(RetourError):
    """The current state forbids the action (state machine, already done, race lost)."""

    status = 409
    code = "conflict"
    title = "Conflict"


class Refused(RetourError):
    """The policy or a business rule refuses the request."""

    status = 422
    code = "refused"
    title = "Refused"


class InvalidInput(RetourError):
    status = 422
    code = "invalid_input"
    title = "Invalid input"


class Unauthorized(RetourError):
    status = 401
    code = "unauthorized"
    title = "Unauthorized"


class Forbidden(RetourError):
    status = 403
    code = "forbidden"
    title = "Forbidden"


class PayloadTooLarge(RetourError):
    status = 413
    code = "payload_too_large"
    title = "Payload too large"


class TooManyRequests(RetourError):
    status = 429
    code = "rate_limited"
    title = "Too many requests"


class ServiceUnavailable(RetourError):
    status = 503
    code = "service_unavailable"
    title = "Service unavailable"

"""Every error the JSON API gives is ``application/problem+json`` (RFC 9457) with a machine code."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from retour.kit.errors import RetourError

log = logging.getLogger("retour.api")
PROBLEM = "application/problem+json"


class ValidationIssue(BaseModel):
    field: str
    message: str
    type: str | None = None


class Problem(BaseModel):
    """An error (RFC 9457). ``code`` is the machine-readable reason; ``field`` the input at fault.
    Some codes add members: ``errors`` (validation), ``reason`` (en/fr, a refused line),
    ``returnable_quantity``, ``status`` of a return whose transition was refused..."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    code: str
    field: str | None = None
    errors: list[ValidationIssue] | None = None


_DESCRIPTIONS = {
    400: "The body is not JSON at all (`bad_request`)",
    401: "No API key, an unknown or a revoked one (`missing_api_key`, `invalid_api_key`, `revoked_api_key`)",
    403: "The API key lacks the scope (`insufficient_scope`)",
    404: "Not found, or another shop's (`not_found`)",
    409: "The current state forbids it, or a concurrent change won (`invalid_transition`, `conflict`...)",
    413: "The body is larger than this route accepts (`payload_too_large`)",
    422: "Invalid input (`validation_error`, with `errors`), or refused by the policy (`line_not_returnable`...)",
    503: "The database is unavailable (`database_unavailable`)",
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problems a route can answer, to pass as ``responses=``."""
    return {
        status: {
            "model": Problem,
            "description": _DESCRIPTIONS[status],
            "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {
        "type": f"https://retour.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        **{key: value for key, value in extra.items() if value is not None},
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(part) for part in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:] or parts
    return ".".join(parts)


def install(app: FastAPI, *, html_handler: Any = None) -> None:
    @app.exception_handler(RetourError)
    async def _business(request: Request, error: RetourError) -> Any:
        if html_handler is not None and not _wants_json(request):
            return await html_handler(request, error)
        extra = dict(error.extra)
        if "status" in extra:  # a return's status (invalid_transition) must not replace the HTTP status
            extra["current_status"] = extra.pop("status")
        response = problem(error.status, error.code, error.title, error.detail, field=error.field, **extra)
        if error.status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _field(tuple(item["loc"])), "message": item["msg"], "type": item["type"]}
            for item in error.errors()
        ]
        first = errors[0] if errors else {"field": "", "message": "invalid request"}
        return problem(
            422,
            "validation_error",
            "Invalid input",
            f"{first['field']}: {first['message']}",
            field=first["field"],
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> Any:
        codes = {
            400: "bad_request",
            404: "not_found",
            405: "method_not_allowed",
            401: "unauthorized",
            403: "forbidden",
        }
        if html_handler is not None and not _wants_json(request):
            return await html_handler(request, error)
        response = problem(
            error.status_code,
            codes.get(error.status_code, "http_error"),
            str(error.detail),
            str(error.detail),
        )
        for name, value in (error.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(DataError)
    async def _data(request: Request, error: DataError) -> JSONResponse:
        # A value the schemas let through but the database cannot hold (a NUL character in a
        # text on PostgreSQL...): the input is at fault, not the server.
        log.warning("value refused by the database on %s: %s", request.url.path, error.orig)
        return problem(
            422,
            "invalid_value",
            "Invalid input",
            "a value is out of range or holds characters that cannot be stored (such as NUL)",
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, error: IntegrityError) -> JSONResponse:
        log.info("integrity error on %s: %s", request.url.path, error.orig)
        return problem(409, "conflict", "Conflict", "the change conflicts with another one; retry the request")

    @app.exception_handler(OperationalError)
    async def _operational(request: Request, error: OperationalError) -> JSONResponse:
        log.warning("database unavailable on %s: %s", request.url.path, error.orig)
        return problem(503, "database_unavailable", "Service unavailable", "the database is busy; retry shortly")


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/webhooks/")) or request.url.path == "/healthz"

"""Errors shown to customers: a stable code plus a Chinese message, never a stack trace.

Every error response of the API has the shape of `ErrorOut` (`{"detail": {"code", "message"}}`, plus
`errors` for a malformed request), declared for every route in the OpenAPI schema (`ERROR_RESPONSES`).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import InternalError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.texts import text

logger = logging.getLogger(__name__)

# Seconds a client should wait before retrying when the database is busy or read-only.
DATABASE_RETRY_AFTER_SECONDS = 5


class ErrorDetail(BaseModel):
    code: str
    message: str
    errors: list[dict[str, Any]] | None = None


class ErrorOut(BaseModel):
    detail: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in (
        (400, "Bad request"),
        (401, "Identity not accepted"),
        (404, "Not found"),
        (413, "Message or request too large"),
        (422, "Malformed request"),
        (500, "Unexpected error"),
        (503, "Service busy (database locked or read-only); retry later"),
    )
}

_HTTP_CODES = {
    400: ("bad_request", "invalid_request"),
    401: ("unauthorized", "invalid_identity"),
    404: ("not_found", "not_found"),
    405: ("method_not_allowed", "method_not_allowed"),
    413: ("request_too_large", "request_too_large"),
}


class CustomerFacingError(Exception):
    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(code)
        self.status_code = status_code
        self.code = code
        self.message = message


def error_body(code: str, message: str, **extra: object) -> dict[str, object]:
    return {"detail": {"code": code, "message": message, **extra}}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CustomerFacingError)
    async def _customer_error(request: Request, exc: CustomerFacingError) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content=error_body(exc.code, exc.message))

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = jsonable_encoder(exc.errors(), exclude={"input", "ctx", "url"})
        logger.info("Rejected malformed request to %s: %s", request.url.path, errors)
        return JSONResponse(
            status_code=422, content=error_body("invalid_request", text("invalid_request"), errors=errors)
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail: object = exc.detail  # typed str, but our own raises carry {"code", "message"}
        if isinstance(detail, dict) and {"code", "message"} <= detail.keys():
            content: dict[str, object] = {"detail": detail}
        else:
            code, text_key = _HTTP_CODES.get(exc.status_code, ("http_error", "invalid_request"))
            content = error_body(code, text(text_key))
        return JSONResponse(status_code=exc.status_code, content=content, headers=exc.headers)

    async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # Locked past the busy timeout, read-only, or a read-only PostgreSQL transaction: nothing was
        # stored, so the customer is asked to send again (the channel may retry with the same message id).
        logger.error("Database unavailable for %s %s: %s", request.method, request.url.path, str(exc).splitlines()[0])
        return JSONResponse(
            status_code=503,
            content=error_body("service_busy", text("database_busy")),
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )

    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(InternalError, _database_unavailable)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("Unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(status_code=500, content=error_body("internal_error", text("internal_error")))

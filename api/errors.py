"""Errors shown to customers: a stable code plus a Chinese message, never a stack trace."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api.texts import text

logger = logging.getLogger(__name__)


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

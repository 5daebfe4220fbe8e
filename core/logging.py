"""Personal data out of the logs: every log record's message and arguments are masked when created.

Masked: mainland mobile numbers (138****5678), identity tokens and bearer tokens (in query strings,
headers or JSON), and the values of name fields (`"name": "张伟"` -> `"name": "张*"`). Installed by each
process entry point (API app, action server); it works for every logger, including uvicorn's access log.
"""

from __future__ import annotations

import logging
import re
from typing import Any

_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
_TOKEN = re.compile(r"(\b(?:identity_token|token|access_token)[\"']?\s*[=:]\s*[\"']?)[^\s&\"',}]+", re.IGNORECASE)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+")
_NAME = re.compile(
    r"(\b(?:name|customer_name|contact_name|full_name)[\"']?\s*[=:]\s*[\"']?)([^\s\"',}&]{1,40})", re.IGNORECASE
)


def mask_pii(text: str) -> str:
    text = _MOBILE.sub(r"\1****\3", text)
    text = _TOKEN.sub(r"\1***", text)
    text = _BEARER.sub(r"\1***", text)
    return _NAME.sub(lambda m: m.group(1) + m.group(2)[0] + "*", text)


def _mask_value(value: Any) -> Any:
    return mask_pii(value) if isinstance(value, str) else value


_installed = False


def install_pii_masking() -> None:
    """Wraps the log record factory once per process so no handler can print unmasked PII."""
    global _installed
    if _installed:
        return
    base_factory = logging.getLogRecordFactory()

    def masking_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base_factory(*args, **kwargs)
        if isinstance(record.msg, str):
            record.msg = mask_pii(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_mask_value(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _mask_value(arg) for key, arg in record.args.items()}
        return record

    logging.setLogRecordFactory(masking_factory)
    _installed = True

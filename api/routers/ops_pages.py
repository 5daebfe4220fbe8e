"""The ops console's pages: plain HTML + JS modules in api/static/ops/, served under /ops."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import APIRouter, Response

OPS_STATIC = Path(__file__).resolve().parent.parent / "static" / "ops"
# URL under /ops → page file. /ops/training and /ops/analytics are served by their own routers.
OPS_PAGES = {
    "/ops": "index.html",
    "/ops/intents": "intents.html",
    "/ops/faq": "faq.html",
    "/ops/wording": "wording.html",
    "/ops/tables": "tables.html",
    "/ops/documents": "documents.html",
    "/ops/review": "review.html",
}
pages_router = APIRouter(include_in_schema=False)


def _page_route(file_name: str) -> Callable[[], Response]:
    def page() -> Response:
        # The page itself is public (it holds no data); it asks for a staff token before any API call.
        return Response((OPS_STATIC / file_name).read_bytes(), media_type="text/html; charset=utf-8")

    return page


for _url, _file in OPS_PAGES.items():
    pages_router.add_api_route(_url, _page_route(_file), methods=["GET"])

"""The ops console's analytics: the dashboard page, its figures as JSON or CSV, and the department feedback report.

`GET /api/ops/analytics?from=YYYY-MM-DD&to=YYYY-MM-DD[&format=csv]` and
`GET /api/ops/analytics/feedback?from=…&to=…[&business=hotel][&format=csv]` need a staff token of role ops or
supervisor. Dates are local days in the tenant's timezone (settings.timezone), both ends included.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import FileResponse, Response
from sqlalchemy.orm import Session, sessionmaker

from api.auth import SessionFactoryDep, Staff, require_roles
from api.deps import SettingsDep
from api.texts import TextCatalog
from crm.services.analytics import (
    Period,
    PeriodError,
    analytics_csv,
    analytics_report,
    feedback_csv,
    feedback_report,
)
from crm.services.analytics.feedback import NO_BUSINESS, business_names
from crm.services.analytics.schemas import AnalyticsOut, FeedbackOut

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
# ECharts as npm installed it (api/static/vendor/package.json; scripts/setup.sh runs npm ci).
ECHARTS_FILE = STATIC_DIR / "vendor" / "node_modules" / "echarts" / "dist" / "echarts.min.js"

T = TypeVar("T")
text = TextCatalog(Path(__file__).with_name("ops_analytics.zh.yml"))
router = APIRouter(tags=["ops analytics"])
OpsOrSupervisor = Annotated[Staff, Depends(require_roles("ops", "supervisor"))]
From = Annotated[str, Query(alias="from", description="first local day, YYYY-MM-DD")]
To = Annotated[str, Query(alias="to", description="last local day (included), YYYY-MM-DD")]
Format = Annotated[Literal["json", "csv"], Query(alias="format")]


def _period(first: str, last: str, timezone: str) -> Period:
    try:
        return Period.parse(first, last, timezone)
    except PeriodError as error:
        raise HTTPException(
            status_code=422, detail={"code": "invalid_period", "message": text("invalid_period", reason=error)}
        ) from error


def _csv(body: str, filename: str) -> Response:
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def _read(factory: sessionmaker[Session], work: Callable[..., T], /, **kwargs: Any) -> T:
    """Runs a read-only query in a worker thread (the event loop keeps serving)."""

    def run() -> T:
        with factory() as session:
            return work(session, **kwargs)

    return await asyncio.to_thread(run)


@router.get("/api/ops/analytics", response_model=AnalyticsOut)
async def read_analytics(
    first: From,
    last: To,
    staff: OpsOrSupervisor,
    factory: SessionFactoryDep,
    settings: SettingsDep,
    fmt: Format = "json",
) -> AnalyticsOut | Response:
    """Every dashboard figure for the period (JSON), or the same as a long-form CSV (`format=csv`)."""
    period = _period(first, last, settings.timezone)
    report = await _read(factory, analytics_report, period=period)
    if fmt == "csv":
        return _csv(analytics_csv(report), f"analytics_{period.first}_{period.last}.csv")
    return report


@router.get("/api/ops/analytics/feedback", response_model=FeedbackOut)
async def read_feedback(
    first: From,
    last: To,
    staff: OpsOrSupervisor,
    factory: SessionFactoryDep,
    settings: SettingsDep,
    business: Annotated[str | None, Query(max_length=32)] = None,
    fmt: Format = "json",
) -> FeedbackOut | Response:
    """The complaints of the period by department and category; `business` limits it to one department
    ("general" for complaints without one). The CSV has one complaint per row: what the department receives."""
    period = _period(first, last, settings.timezone)
    if business is not None and business != NO_BUSINESS:
        known = await _read(factory, business_names)
        if business not in known:
            raise HTTPException(
                status_code=422,
                detail={"code": "unknown_business", "message": text("unknown_business", business=business)},
            )
    report = await _read(factory, feedback_report, period=period, business=business)
    if fmt == "csv":
        return _csv(feedback_csv(report), f"feedback_{business or 'all'}_{period.first}_{period.last}.csv")
    return report


@router.get("/ops/analytics", include_in_schema=False)
async def analytics_page() -> FileResponse:
    """The dashboard (its script asks for the staff token and loads the figures from the API)."""
    return FileResponse(STATIC_DIR / "ops" / "analytics.html", media_type="text/html; charset=utf-8")


@router.get("/vendor/echarts.min.js", include_in_schema=False)
async def echarts_script() -> FileResponse:
    """Apache ECharts from npm; 503 with the fix when `npm ci` has not run."""
    if not ECHARTS_FILE.exists():
        raise HTTPException(
            status_code=503,
            detail={"code": "echarts_missing", "message": "ECharts is not installed: run make setup (npm ci)"},
        )
    return FileResponse(ECHARTS_FILE, media_type="text/javascript; charset=utf-8")

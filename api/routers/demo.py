"""The demo host page (`/demo`): a fictional company's web page that embeds the widget with its one script tag.

The page is static HTML + JS (api/static/demo/); what it says about the company (name, businesses, stores, hours,
hotline) comes from `GET /api/demo/company`, read from the CRM and the tenant data, never written in Python.
The widget itself is served at `/widget.js` (api/static/widget/).
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crm.models import Business, ServiceDesk
from crm.seed.config import load_seed_data

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
# The script carries no version in its URL: caches revalidate (ETag) after five minutes.
WIDGET_CACHE_CONTROL = "public, max-age=300"

router = APIRouter(tags=["widget"])


class StoreView(BaseModel):
    name: str
    city: str
    address: str
    phone: str
    hours: str


class BusinessView(BaseModel):
    name: str
    description: str | None
    stores: list[StoreView]


class CompanyOut(BaseModel):
    name: str
    short_name: str
    hotline: str
    hotline_hours: str
    complaint_hotline: str
    email: str
    wechat_account: str
    businesses: list[BusinessView]


def _company(session: Session) -> CompanyOut:
    group = load_seed_data().tenant.group
    desk = session.scalars(select(ServiceDesk)).first()
    businesses = [
        BusinessView(
            name=business.name_zh,
            description=business.description_zh,
            stores=[
                StoreView(name=s.name, city=s.city, address=s.address, phone=s.phone, hours=s.hours_text_zh)
                for s in business.stores
                if s.active
            ],
        )
        for business in session.scalars(select(Business).order_by(Business.id))
    ]
    return CompanyOut(
        name=group.name_zh,
        short_name=group.short_name_zh,
        hotline=desk.hotline if desk else group.hotline,
        hotline_hours=desk.service_hours_text_zh if desk else group.hotline_hours_zh,
        complaint_hotline=desk.complaint_hotline if desk else group.complaint_hotline,
        email=group.email,
        wechat_account=group.wechat_account_zh,
        businesses=businesses,
    )


@router.get("/api/demo/company", response_model=CompanyOut)
async def get_company(request: Request) -> CompanyOut:
    """The demo tenant's public facts, for the demo host page."""
    factory: sessionmaker[Session] = request.app.state.session_factory

    def work() -> CompanyOut:
        with factory() as session:
            return _company(session)

    return await asyncio.to_thread(work)


@router.get("/demo", include_in_schema=False)
async def demo_page() -> Response:
    return Response((STATIC_DIR / "demo" / "demo.html").read_bytes(), media_type="text/html; charset=utf-8")


@router.get("/widget.js", include_in_schema=False)
async def widget_script(request: Request) -> Response:
    """The embeddable widget: `<script src="https://<api>/widget.js" async></script>`."""
    content = (STATIC_DIR / "widget" / "widget.js").read_bytes()
    etag = '"' + hashlib.sha256(content).hexdigest()[:32] + '"'
    headers = {"Cache-Control": WIDGET_CACHE_CONTROL, "ETag": etag}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(content, media_type="text/javascript; charset=utf-8", headers=headers)

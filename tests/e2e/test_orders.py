"""Order status through the API with the real bot: privacy, tolerant numbers, "my orders"."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from crm.models import Customer, Order
from tests.e2e.conftest import LiveStack
from tests.e2e.test_chat import new_user, say


def texts(result: dict) -> str:
    return "\n".join(reply["text"] for reply in result["replies"])


def an_in_transit_order(stack: LiveStack) -> tuple[Order, Customer, Customer]:
    with stack.session_factory() as session:
        order = session.scalars(select(Order).where(Order.status == "in_transit").order_by(Order.id)).first()
        owner = session.get(Customer, order.customer_id)
        stranger = session.scalars(select(Customer).where(Customer.id != owner.id).order_by(Customer.id)).first()
    return order, owner, stranger


def test_anonymous_customer_sees_an_order_only_with_the_mobile_on_it(api: httpx.Client, live_stack: LiveStack) -> None:
    order, owner, stranger = an_in_transit_order(live_stack)
    number = order.order_number
    spaced = f"{number[:2].lower()} {number[2:6]} {number[6:10]} {number[10:]}"  # dd 2026 1120 0017

    user = new_user()
    assert "订单号" in texts(say(api, user, "帮我查一下订单"))
    assert "手机号" in texts(say(api, user, spaced))
    refused = texts(say(api, user, stranger.mobile))
    assert "没有查到" in refused and "运输中" not in refused and order.tracking_number not in refused

    user = new_user()
    say(api, user, "我的快递到哪了")
    say(api, user, order.order_number)
    shown = texts(say(api, user, f"{owner.mobile[:3]} {owner.mobile[3:7]} {owner.mobile[7:]}"))
    assert order.order_number in shown and "运输中" in shown
    assert order.tracking_number in shown and "预计送达" in shown
    assert owner.mobile not in shown  # personal data stays masked or absent


def test_a_ten_digit_mobile_is_explained_and_asked_again(api: httpx.Client, live_stack: LiveStack) -> None:
    order, _, _ = an_in_transit_order(live_stack)
    user = new_user()
    say(api, user, "查订单")
    say(api, user, order.order_number)
    reply = texts(say(api, user, "1381234567"))
    assert "11位" in reply


def test_identified_customer_picks_from_my_orders(api: httpx.Client, live_stack: LiveStack) -> None:
    token = api.get("/api/widget/dev-identity", params={"web_user_id": "demo-gold"}).json()["identity_token"]
    user = new_user()
    listing = say(api, user, "我的订单", identity_token=token)
    buttons = [b for reply in listing["replies"] for b in reply["buttons"]]
    assert buttons, listing
    chosen = buttons[0]
    detail = texts(say(api, user, chosen["title"], payload=chosen["payload"], identity_token=token))
    assert chosen["title"].split()[0] in detail and "当前状态" in detail


def test_unknown_order_number_is_said_honestly(api: httpx.Client) -> None:
    token = api.get("/api/widget/dev-identity", params={"web_user_id": "demo-iron"}).json()["identity_token"]
    reply = say(api, new_user(), "帮我查下订单DD209901010001", identity_token=token)
    assert "没有查到" in texts(reply)
    assert {"/order_status", "/request_human"} <= {b["payload"] for r in reply["replies"] for b in r["buttons"]}

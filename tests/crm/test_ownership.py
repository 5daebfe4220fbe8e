"""The one ownership rule: the identified customer's own rows, or rows carrying the anonymous requester's mobile."""

from __future__ import annotations

from crm.services.ownership import Requester


def test_an_identified_customer_sees_only_their_rows_whatever_mobile_is_on_them() -> None:
    requester = Requester(customer_id=7, mobile="13900000000")
    assert requester.may_see(7, "13800000000")
    assert not requester.may_see(8, "13900000000")


def test_an_anonymous_requester_needs_a_mobile_on_the_row() -> None:
    assert Requester(mobile="13900000000").may_see(8, "13800000000", "13900000000")
    assert not Requester(mobile="13900000000").may_see(8, "13800000000", None)
    assert not Requester().may_see(8, None)
    assert not Requester().may_see(None, None)

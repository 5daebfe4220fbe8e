from datetime import date, datetime, timezone

import pytest

from crm.formatting import customer_title, day_text, mask_mobile, mask_name, moment_text


@pytest.mark.parametrize(
    ("mobile", "expected"),
    [
        ("13812341234", "138****1234"),
        ("19900000001", "199****0001"),
        ("0851-85876601", "085******6601"),
        ("123", "***"),
    ],
)
def test_mask_mobile_hides_the_middle(mobile: str, expected: str) -> None:
    assert mask_mobile(mobile) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [("张三丰", "张*丰"), ("张三", "张*"), ("欧阳娜娜", "欧**娜"), ("李", "*"), ("", ""), (" 王芳 ", "王*")],
)
def test_mask_name_keeps_first_and_last_character(name: str, expected: str) -> None:
    assert mask_name(name) == expected


@pytest.mark.parametrize(
    ("name", "gender", "expected"),
    [
        ("林浩然", "male", "林先生"),
        ("陈思雨", "female", "陈女士"),
        ("欧阳娜娜", "female", "欧阳女士"),
        ("张晓雯", "unknown", "张晓雯"),
    ],
)
def test_customer_title_uses_surname_and_honorific(name: str, gender: str, expected: str) -> None:
    assert customer_title(name, gender) == expected


def test_days_and_moments_are_written_in_the_company_time_zone() -> None:
    late_utc = datetime(2026, 12, 2, 17, 5, tzinfo=timezone.utc)  # 01:05 on 12-03 in Asia/Shanghai
    assert moment_text(late_utc) == "12月03日 01:05"
    assert day_text(late_utc) == "12月3日"
    assert day_text(date(2026, 1, 9)) == "1月9日"

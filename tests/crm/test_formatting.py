import pytest

from crm.formatting import customer_title, mask_mobile, mask_name


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

"""The NLU's entity extraction: ids however typed (pure), the CRM vocabulary, and the spaCy ruler component."""

from __future__ import annotations

import json

import pytest

from stack.nlu_entities import export
from tests.bot.helpers import run_in_rasa_env
from tests.bot.pure_modules import load_bot_module

ids = load_bot_module("id_entities")
vocabulary_module = load_bot_module("crm_vocabulary")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("订单 dd 2026 1127 0315 发货没", [("order_id", "DD202611270315", "dd 2026 1127 0315")]),
        ("ＤＤ２０２６１１２４０５１２", [("order_id", "DD202611240512", "ＤＤ２０２６１１２４０５１２")]),
        ("帮忙看下DD-2026-1122-0077到哪了", [("order_id", "DD202611220077", "DD-2026-1122-0077")]),
        ("工单号：TS 2026 1201 0003", [("ticket_id", "TS202612010003", "TS 2026 1201 0003")]),
        ("预约号yy202612030021查一下", [("booking_id", "YY202612030021", "yy202612030021")]),
        ("我手机是139 8501 2345", [("phone", "13985012345", "139 8501 2345")]),
        ("电话186-8512-3321", [("phone", "18685123321", "186-8512-3321")]),
        (
            "单号DD202611300025，手机１３７０８５１９９８８",
            [("order_id", "DD202611300025", "DD202611300025"), ("phone", "13708519988", "１３７０８５１９９８８")],
        ),
    ],
)
def test_ids_are_found_however_typed_with_normalised_values(text: str, expected: list[tuple[str, str, str]]) -> None:
    found = ids.find_ids(text)
    assert [(m.entity, m.value, m.text) for m in found] == expected
    assert all(text[m.start : m.end] == m.text for m in found)


@pytest.mark.parametrize("text", ["DD2026112400051", "XDD202611240005", "12345678901234", "订单DD2026", "价格1380元"])
def test_near_misses_are_not_ids(text: str) -> None:
    assert ids.find_ids(text) == []


def test_vocabulary_names_stores_by_landmark_and_district_and_services_by_booking_words() -> None:
    vocabulary = vocabulary_module.build_vocabulary(
        [
            {
                "code": "a",
                "business": "car_care",
                "name": "悦享汽车（贵阳花果园店）",
                "city": "贵阳",
                "district": "南明区",
            },
            {
                "code": "b",
                "business": "menswear",
                "name": "悦享男装（贵阳花果园旗舰店）",
                "city": "贵阳",
                "district": "南明区",
            },
        ],
        [{"code": "minor", "business": "car_care", "name": "小保养（机油 + 机滤）"}],
        {"car_care": {"minor": ["换机油"]}},
    )
    assert vocabulary["store_phrases"]["花果园"] == ["a", "b"]
    assert vocabulary["store_phrases"]["南明"] == ["a", "b"]
    assert vocabulary["service_phrases"]["小保养"] == "minor"
    assert vocabulary["service_phrases"]["换机油"] == "minor"


def test_seed_export_covers_every_store(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = export(tmp_path / "v.json", seed_only=True)
    vocabulary = json.loads(path.read_text(encoding="utf-8"))
    assert len(vocabulary["stores"]) == 10
    assert vocabulary["store_phrases"]["九眼桥"] == ["cd-jj-food"]


# Runs in the rasa env: the component as the pipeline builds it from an exported vocabulary.
PROBE = """
import json, sys
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from bot.entity_extractors import CrmEntityExtractor
vocabulary = json.load(open(sys.argv[1], encoding="utf-8"))
extractor = CrmEntityExtractor({}, LocalModelStorage(sys.argv[2]), Resource("crm"), vocabulary)
cases = json.loads(sys.argv[3])
print(json.dumps([[(e["entity"], e["value"]) for e in extractor.extract(text, ents)] for text, ents in cases]))
"""


def test_stores_and_services_get_crm_codes_narrowed_by_the_business_named(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = export(tmp_path / "v.json", seed_only=True)
    cases = [
        ["花果园店几点开门", []],
        ["花果园那家男装店", [{"entity": "business", "value": "menswear"}]],
        ["九眼桥那家能停车吗", []],
        ["花果園店幾點開門", []],
        ["帮我约观山湖的小保养", []],
        ["上海迪士尼门票多少钱", []],
    ]
    output = json.loads(run_in_rasa_env(PROBE, str(path), str(tmp_path / "storage"), json.dumps(cases)))
    assert output == [
        [["store", "gy-hgy-car"], ["store", "gy-hgy-suit"]],
        [["store", "gy-hgy-suit"]],
        [["store", "cd-jj-food"]],
        [["store", "gy-hgy-car"], ["store", "gy-hgy-suit"]],
        [["store", "gy-gsh-car"], ["service", "minor_maintenance"]],
        [],
    ]

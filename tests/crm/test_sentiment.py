import pytest

from crm.services.sentiment import SentimentRules, analyse, classify, normalise


@pytest.mark.parametrize(
    ("text", "negative", "abusive", "wants_escalation"),
    [
        ("你们就是垃圾", True, True, False),
        ("一群骗子", True, True, False),
        ("你們這些騙子", True, True, False),  # traditional characters
        ("气死我了", True, False, False),
        ("我要投诉你们", True, False, True),
        ("找你们领导来跟我说", True, False, True),
        ("到底什么时候发货！！", True, False, False),
        ("到底什么时候发货!!!", True, False, False),
        ("什么时候发货？", False, False, False),
        ("好的！谢谢", False, False, False),
        ("房间的垃圾桶没有清理", False, False, False),  # an ordinary word that contains 垃圾
        ("我的USB充电线落在房间了", False, False, False),  # "sb" only as a word of its own
        ("你个SB", True, True, False),
        ("你个ＳＢ", True, True, False),  # full-width letters
        ("对服务很不满意", True, False, False),
        ("谢谢你们的服务", False, False, False),
    ],
)
def test_messages_are_classified_by_the_policy_rules(
    text: str, negative: bool, abusive: bool, wants_escalation: bool
) -> None:
    result = analyse(text)
    assert (result.negative, result.abusive, result.wants_escalation) == (negative, abusive, wants_escalation), result
    assert bool(result.matched) == negative


def test_rules_are_normalised_and_the_exclamation_run_is_configurable() -> None:
    rules = SentimentRules(exclamation_run=3, negative=["氣死"], abusive=["ＳＢ"])
    assert rules.negative == ["气死"] and rules.abusive == ["sb"]
    assert not classify("快点!!", rules).negative
    assert classify("快点!!!", rules).negative
    assert classify("气死", rules).negative


def test_normalise_folds_width_case_and_script() -> None:
    assert normalise(" 騙子ＡＢＣ！ ") == "骗子abc!"

"""The channel's crypto (wechatpy) against independent vectors: Tencent's WXBizMsgCrypt sample, wechatpy's
published test vectors, and tests/fakes/wechat_crypto.py written from the published algorithm."""

from __future__ import annotations

import base64

import pytest
import xmltodict
from wechatpy.crypto import PrpCrypto, WeChatCrypto

from api.channels.wechat.protocol import (
    CallbackQuery,
    ForgedRequestError,
    Incoming,
    WeChatProtocol,
)
from tests.fakes import wechat_crypto

# Tencent's official-account sample (WXBizMsgCrypt Sample.py, 消息加解密接入指引).
TENCENT = {
    "token": "spamtest",
    "aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    "appid": "wx2c2769f8efd9abc2",
    "timestamp": "1409735669",
    "nonce": "1320562132",
    "msg_signature": "5d197aaffba7e9b25a30732f161a50dee96bd5fa",
    "encrypt": (
        "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9"
        "FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3y"
        "t+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v"
        "6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
    ),
}

# wechatpy's tests/test_crypto.py (same algorithm; the id at the end is a corp id there).
WECHATPY = {
    "token": "123456",
    "aes_key": "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR",
    "appid": "wx49f0ab532d5d035a",
    "timestamp": "1411525903",
    "nonce": "461056294",
    "random": b"1234567890123456",
    "reply": (
        "<xml>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[test]]></Content>\n"
        "<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>\n<ToUserName><![CDATA[messense]]></ToUserName>\n"
        "<AgentID>1</AgentID>\n<CreateTime>1411525903</CreateTime>\n</xml>"
    ),
    "reply_encrypt": (
        "9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBqGsL8GqxlhZgURnAtOb"
        "vesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFhHZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8"
        "NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX05UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O"
        "5oazPoQJz0nTYjxxEE8kv3kFxtAGVRe3ypD3WeK2XeFYFMNMpatF9XiKzHo3"
    ),
    "reply_signature": "407518b7649e86ef23978113f92d27afa9296533",
    "request_encrypt": (
        "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTyeDXzF6Bv283dGymz"
        "xh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIi"
        "OAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvc"
        "cTKe7FS709/5t6NMxuGhcUGAPOQipvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0="
    ),
    "request_signature": "74d92dfeb87ba7c714f89d98870ae5eb62dff26d",
}


def envelope(encrypted: str) -> bytes:
    account = "<ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>"
    return f"<xml>{account}<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>".encode()


def test_tencent_sample_opens_through_the_channel_and_through_the_independent_implementation() -> None:
    protocol = WeChatProtocol(token=TENCENT["token"], aes_key=TENCENT["aes_key"], appid=TENCENT["appid"])
    query = CallbackQuery(
        signature=None,
        timestamp=TENCENT["timestamp"],
        nonce=TENCENT["nonce"],
        encrypt_type="aes",
        msg_signature=TENCENT["msg_signature"],
    )
    incoming = protocol.open(query, envelope(TENCENT["encrypt"]))
    assert incoming == Incoming(
        openid="oyORnuP8q7ou2gfYjqLzSIWZf0rs",
        account="gh_10f6c3c3ac5a",
        msg_type="text",
        create_time="1409735668",
        msg_id="6054768590064713728",
        content="abcdteT",
    )
    assert (
        wechat_crypto.sign(TENCENT["token"], TENCENT["timestamp"], TENCENT["nonce"], TENCENT["encrypt"])
        == (TENCENT["msg_signature"])
    )
    xml, appid, padded = wechat_crypto.decrypt(TENCENT["aes_key"], TENCENT["encrypt"])
    assert appid == TENCENT["appid"]
    assert "<Content><![CDATA[abcdteT]]></Content>" in xml
    assert len(padded) % 32 == 0


def test_tencent_sample_with_another_appid_is_refused() -> None:
    protocol = WeChatProtocol(token=TENCENT["token"], aes_key=TENCENT["aes_key"], appid="wx0000000000000000")
    query = CallbackQuery(None, TENCENT["timestamp"], TENCENT["nonce"], "aes", TENCENT["msg_signature"])
    with pytest.raises(ForgedRequestError):
        protocol.open(query, envelope(TENCENT["encrypt"]))


def test_tencent_sample_with_a_changed_nonce_is_refused() -> None:
    protocol = WeChatProtocol(token=TENCENT["token"], aes_key=TENCENT["aes_key"], appid=TENCENT["appid"])
    query = CallbackQuery(None, TENCENT["timestamp"], "1320562133", "aes", TENCENT["msg_signature"])
    with pytest.raises(ForgedRequestError):
        protocol.open(query, envelope(TENCENT["encrypt"]))


def test_wechatpy_vector_encrypts_byte_for_byte_in_both_implementations(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(PrpCrypto, "get_random_string", lambda self: WECHATPY["random"].decode())
    crypto = WeChatCrypto(WECHATPY["token"], WECHATPY["aes_key"], WECHATPY["appid"])
    encrypted = xmltodict.parse(crypto.encrypt_message(WECHATPY["reply"], WECHATPY["nonce"], WECHATPY["timestamp"]))
    assert encrypted["xml"]["Encrypt"] == WECHATPY["reply_encrypt"]
    assert encrypted["xml"]["MsgSignature"] == WECHATPY["reply_signature"]
    independent = wechat_crypto.encrypt(WECHATPY["aes_key"], WECHATPY["appid"], WECHATPY["reply"], WECHATPY["random"])
    assert independent == WECHATPY["reply_encrypt"]
    assert (
        wechat_crypto.sign(WECHATPY["token"], WECHATPY["timestamp"], WECHATPY["nonce"], independent)
        == WECHATPY["reply_signature"]
    )


def test_wechatpy_request_vector_decrypts() -> None:
    protocol = WeChatProtocol(token=WECHATPY["token"], aes_key=WECHATPY["aes_key"], appid=WECHATPY["appid"])
    query = CallbackQuery(None, WECHATPY["timestamp"], WECHATPY["nonce"], "aes", WECHATPY["request_signature"])
    body = (
        "<xml><ToUserName><![CDATA[wx49f0ab532d5d035a]]></ToUserName>"
        f"<Encrypt><![CDATA[{WECHATPY['request_encrypt']}]]></Encrypt></xml>"
    ).encode()
    incoming = protocol.open(query, body)
    assert (incoming.openid, incoming.msg_type, incoming.content) == ("messense", "text", "test")
    xml, appid, _ = wechat_crypto.decrypt(WECHATPY["aes_key"], WECHATPY["request_encrypt"])
    assert appid == WECHATPY["appid"]
    assert xmltodict.parse(xml)["xml"]["Content"] == "test"


@pytest.mark.parametrize("length", [11, 12, 13, 44, 45, 300])
def test_replies_are_padded_to_a_32_byte_block_including_a_whole_block(length: int) -> None:
    """Plaintext = 16 random + 4 length + xml + 18-byte appid; lengths around 32-multiples need 32 bytes of padding."""
    appid = "wx0123456789abcdef"
    aes_key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
    protocol = WeChatProtocol(token="t", aes_key=aes_key, appid=appid)
    query = CallbackQuery("x", "1700000000", "nonce", "aes", "y")
    incoming = Incoming(openid="o-1", account="gh_1", msg_type="text", create_time="1", msg_id="1")
    paddings = set()
    for content_length in range(length, length + 40):
        reply = xmltodict.parse(protocol.reply(query, incoming, "x" * content_length))["xml"]
        assert reply["MsgSignature"] == wechat_crypto.sign("t", reply["TimeStamp"], "nonce", reply["Encrypt"])
        xml, decrypted_appid, padded = wechat_crypto.decrypt(aes_key, reply["Encrypt"])  # strict PKCS#7 check
        assert decrypted_appid == appid
        assert xmltodict.parse(xml)["xml"]["Content"] == "x" * content_length
        paddings.add(padded[-1])
        assert len(base64.b64decode(reply["Encrypt"])) % 32 == 0
    assert 32 in paddings and 1 in paddings  # every padding size occurs, including a whole 32-byte block

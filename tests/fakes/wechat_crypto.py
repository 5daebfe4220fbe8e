"""WeChat's message encryption written from the published algorithm (消息加解密接入指引), independently of
wechatpy, so tests can play WeChat's side and check the channel's wechatpy-based code against it.

Encrypt = base64(AES-256-CBC(key, iv=key[:16], PKCS#7(random16 + len(xml) as 4 bytes big-endian + xml + appid)))
with PKCS#7 padding to a 32-byte block (not AES's 16), key = base64decode(EncodingAESKey + "=").
Signatures are sha1 of the sorted, concatenated strings.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32


class CryptoCheckError(Exception):
    pass


def sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def aes_key(encoding_aes_key: str) -> bytes:
    key = base64.b64decode(encoding_aes_key + "=")
    if len(key) != 32:
        raise CryptoCheckError("EncodingAESKey must decode to 32 bytes")
    return key


def pad(data: bytes) -> bytes:
    count = BLOCK - len(data) % BLOCK  # 1..32: a full block of 32 when already aligned
    return data + bytes([count]) * count


def unpad(data: bytes) -> bytes:
    if not data or len(data) % BLOCK:
        raise CryptoCheckError(f"plaintext length {len(data)} is not a multiple of {BLOCK}")
    count = data[-1]
    if not 1 <= count <= BLOCK or data[-count:] != bytes([count]) * count:
        raise CryptoCheckError(f"bad PKCS#7 padding (last byte {count})")
    return data[:-count]


def encrypt(encoding_aes_key: str, appid: str, xml: str, random16: bytes | None = None) -> str:
    key = aes_key(encoding_aes_key)
    body = xml.encode()
    plain = (random16 or os.urandom(16)) + struct.pack(">I", len(body)) + body + appid.encode()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(pad(plain)) + encryptor.finalize()).decode()


def decrypt(encoding_aes_key: str, encrypted: str) -> tuple[str, str, bytes]:
    """(xml, appid, the padded plaintext) — the caller checks the appid."""
    key = aes_key(encoding_aes_key)
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    padded = decryptor.update(base64.b64decode(encrypted)) + decryptor.finalize()
    plain = unpad(padded)
    (length,) = struct.unpack(">I", plain[16:20])
    return plain[20 : 20 + length].decode(), plain[20 + length :].decode(), padded

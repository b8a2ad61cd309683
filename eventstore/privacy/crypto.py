"""The cryptography of crypto-shredding: AES-256-GCM, data keys wrapped by a master key.

Every data subject (a user, or an anonymous stream such as `login-<key>`) has
its own random 256-bit data key. A personal value is stored as a small JSON
object, the *sealed value*, that names its subject and carries
`nonce || ciphertext` (GCM tag included), so a reader can open it without
knowing the schema version it was written with. The data key itself is stored
only wrapped (AES-GCM again) by a master key derived from the environment;
destroying the wrapped key destroys every value sealed with it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
from collections.abc import Callable
from functools import cache
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from ..errors import KeyUnwrapError

SEALED_MARK = "$pii"  # the key that identifies a sealed value in stored JSON
SEALED_FORMAT = 1
_NONCE_BYTES = 12


@cache
def _derive(secret: str) -> AESGCM:
    # HKDF turns the configured secret (any length, must be random) into a 256-bit key.
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"platform personal data master key"
    ).derive(secret.encode())
    return AESGCM(key)


def _master_keys() -> list[AESGCM]:
    """The current master key first, then former ones (accepted while a rotation runs)."""
    secrets = [settings.PERSONAL_DATA_MASTER_KEY, *settings.PERSONAL_DATA_PREVIOUS_MASTER_KEYS]
    return [_derive(s) for s in secrets if s]


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def wrap(subject: str, data_key: bytes) -> bytes:
    """The data key encrypted by the current master key, bound to its subject."""
    nonce = os.urandom(_NONCE_BYTES)
    return nonce + _master_keys()[0].encrypt(nonce, data_key, _key_aad(subject))


def unwrap(subject: str, wrapped: bytes) -> bytes:
    wrapped = bytes(wrapped)
    nonce, body = wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:]
    for master in _master_keys():
        with contextlib.suppress(InvalidTag):  # another master key wrapped it
            return master.decrypt(nonce, body, _key_aad(subject))
    raise KeyUnwrapError(f"no master key unwraps the data key of {subject}")


def _key_aad(subject: str) -> bytes:
    # Binding the subject stops a wrapped key row from being swapped onto another subject.
    return b"key:" + subject.encode()


def seal_value(subject: str, data_key: bytes, value: Any) -> dict[str, Any]:
    """A JSON value encrypted under `data_key`, as the self-describing sealed object."""
    nonce = os.urandom(_NONCE_BYTES)
    ciphertext = AESGCM(data_key).encrypt(nonce, orjson.dumps(value), _value_aad(subject))
    return {
        SEALED_MARK: SEALED_FORMAT,
        "s": subject,
        "c": base64.b64encode(nonce + ciphertext).decode(),
    }


def open_value(sealed: dict[str, Any], data_key: bytes) -> Any:
    return open_with(AESGCM(data_key), sealed)


def open_with(cipher: AESGCM, sealed: dict[str, Any]) -> Any:
    """`open_value` with the data key's cipher already built."""
    raw = base64.b64decode(sealed["c"])
    plaintext = cipher.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _value_aad(sealed["s"]))
    return orjson.loads(plaintext)


def opener(subject: str, data_key: bytes) -> Callable[[dict[str, Any]], Any]:
    """`open_value` for the values of one subject that a batch reader opens by the thousand.

    The cipher and the associated data are built once, and the text decoded by
    `binascii` without `base64.b64decode`'s wrappers: follow() opens about two
    values for every three events of the bench's mixed log (figure "follow()
    whole log", docs/benchmarks.md, issue 24). A value sealed for another
    subject fails to open, as with `open_value`.
    """
    decrypt = AESGCM(data_key).decrypt
    aad = _value_aad(subject)
    a2b = binascii.a2b_base64
    loads = orjson.loads

    def open_one(sealed: dict[str, Any]) -> Any:
        raw = a2b(sealed["c"])
        return loads(decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], aad))

    return open_one


def _value_aad(subject: str) -> bytes:
    return b"value:" + subject.encode()


def is_sealed(value: Any) -> bool:
    """True for a sealed value. Event schemas forbid unknown keys, so no user input has this shape."""
    return isinstance(value, dict) and SEALED_MARK in value and "s" in value and "c" in value

"""Sealed values and the post_created upcaster, without a database."""

import pytest
from cryptography.exceptions import InvalidTag

from community_app.events import post_created_v1_to_v2
from eventstore.errors import KeyUnwrapError
from eventstore.privacy import crypto


def test_a_sealed_value_opens_only_with_its_key_and_subject():
    key = crypto.new_data_key()
    sealed = crypto.seal_value("user-1", key, {"any": ["json", 1]})
    assert crypto.is_sealed(sealed) and "json" not in repr(sealed)
    assert crypto.open_value(sealed, key) == {"any": ["json", 1]}
    with pytest.raises(InvalidTag):
        crypto.open_value(sealed, crypto.new_data_key())
    with pytest.raises(InvalidTag):
        crypto.open_value({**sealed, "s": "user-2"}, key)  # moved onto another subject


def test_a_subject_s_opener_opens_its_values_and_no_other_subject_s():
    key = crypto.new_data_key()
    open_one = crypto.opener("user-1", key)
    values = [crypto.seal_value("user-1", key, v) for v in ("10.0.0.1", {"any": ["json", 1]}, 7)]
    assert [open_one(v) for v in values] == ["10.0.0.1", {"any": ["json", 1]}, 7]
    with pytest.raises(InvalidTag):
        open_one(crypto.seal_value("user-2", key, "x"))  # sealed for another subject with the same key
    with pytest.raises(InvalidTag):
        crypto.opener("user-1", crypto.new_data_key())(values[0])


def test_a_wrapped_key_unwraps_only_for_its_subject():
    key = crypto.new_data_key()
    wrapped = crypto.wrap("user-1", key)
    assert key not in wrapped and crypto.unwrap("user-1", wrapped) == key
    with pytest.raises(KeyUnwrapError):
        crypto.unwrap("user-2", wrapped)


def test_post_created_v1_becomes_v2():
    v1 = {"post_id": "p", "title": "t", "body": "b", "author_id": 1, "author_username": "a", "urls": []}
    v2 = post_created_v1_to_v2(v1)
    assert v2 == {**{k: v for k, v in v1.items() if k != "body"}, "body_text": "b", "body_format": "plain"}


def test_holds_sealed_finds_a_sealed_value_at_any_depth():
    from eventstore.privacy.sealing import holds_sealed

    sealed = crypto.seal_value("user-1", crypto.new_data_key(), "secret")
    assert not holds_sealed({"a": 1, "b": ["x", {"c": None}], "d": {"$pii": 1}})  # not the sealed shape
    assert holds_sealed(sealed)
    assert holds_sealed({"a": 1, "b": ["x", {"c": [sealed]}]})
    assert holds_sealed([{"deep": {"er": sealed}}])
    assert not holds_sealed("text") and not holds_sealed([])

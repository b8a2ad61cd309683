"""Finding the links of a post's body: normalised, in order, deduplicated, at most 20."""

import pytest

from community_app.link_extraction import MAX_LINKS_PER_POST, extract_urls


def test_links_are_normalised_in_order_of_appearance():
    body = "First HTTPS://Example.COM:443/a/./b then http://other.example/path?q=1#frag"
    assert extract_urls(body) == ["https://example.com/a/b", "http://other.example/path?q=1"]


def test_duplicates_after_normalisation_are_listed_once():
    assert extract_urls("https://example.com/ and https://EXAMPLE.com:443/ again") == ["https://example.com/"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Read https://example.com/page.", ["https://example.com/page"]),
        ("(see https://example.com/page)", ["https://example.com/page"]),
        ("https://en.wikipedia.org/wiki/Go_(game)", ["https://en.wikipedia.org/wiki/Go_(game)"]),
        ('<a href="https://example.com/x">x</a>', ["https://example.com/x"]),
        ("Is it https://example.com/?!", ["https://example.com/"]),
        ("<https://example.com/angle>", ["https://example.com/angle"]),
    ],
)
def test_punctuation_around_a_link_belongs_to_the_sentence(body, expected):
    assert extract_urls(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        "no links here",
        "javascript:alert(1) and data:text/html,hi",
        "ftp://files.example/x",
        "mailto:someone@example.com",
    ],
)
def test_bodies_without_http_links_have_none(body):
    assert extract_urls(body) == []


def test_links_that_do_not_normalise_are_skipped():
    body = "bad port https://example.com:99999/ then good https://example.com/ok"
    assert extract_urls(body) == ["https://example.com/ok"]


def test_a_link_longer_than_2048_characters_is_skipped():
    assert extract_urls("https://example.com/" + "a" * 2100) == []


def test_at_most_twenty_links_are_kept():
    body = " ".join(f"https://site{n}.example/" for n in range(30))
    urls = extract_urls(body)
    assert len(urls) == MAX_LINKS_PER_POST == 20
    assert urls[0] == "https://site0.example/" and urls[-1] == "https://site19.example/"

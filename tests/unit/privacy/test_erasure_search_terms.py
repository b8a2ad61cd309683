"""What the erasure checks look for, and how it is spelled for SQL and JSON text (no I/O)."""

from eventstore.privacy.erasure_checks import like_patterns
from eventstore.privacy.erasure_traces import SubjectTraces, json_forms


def test_emails_and_long_texts_are_searched_everywhere_but_not_ips_short_values_or_the_username():
    traces = SubjectTraces(
        "user-7",
        values={
            "ann@example.com",
            "A long enough title",
            "short",
            "192.168.100.100",
            "2001:db8::1234:5678",
            "Alice-the-Great",
        },
        public={"alice-the-great"},
    )

    assert traces.distinctive_values() == ["A long enough title", "ann@example.com"]


def test_values_are_also_searched_as_json_spells_them():
    assert json_forms("plain") == ["plain"]
    assert json_forms('say "hi"\n') == ['say "hi"\n', 'say \\"hi\\"\\n']


def test_like_wildcards_in_a_value_match_only_themselves():
    assert like_patterns(["50%_off\\"]) == ["%50\\%\\_off\\\\%"]

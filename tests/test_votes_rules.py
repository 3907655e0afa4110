"""The vote rules, as pure functions."""

from __future__ import annotations

import pytest

from bot.domain.errors import UserError
from bot.domain.vote_rules import decide, parse_hands, parse_rule


@pytest.mark.parametrize(
    ("rule", "counts", "quorum", "outcome", "by"),
    [
        ("majority", (5, 4, 10), None, "adopted", "majority"),  # abstentions do not count
        ("majority", (4, 5, 0), None, "rejected", "majority"),
        ("majority", (3, 3, 1), None, "tie", "majority"),
        ("majority", (0, 0, 4), None, "tie", "majority"),
        ("two_thirds", (2, 1, 0), None, "adopted", "two_thirds"),  # exactly two thirds is enough
        ("two_thirds", (3, 2, 0), None, "rejected", "two_thirds"),
        ("two_thirds", (6, 3, 9), None, "adopted", "two_thirds"),
        ("two_thirds", (2, 2, 0), None, "tie", "two_thirds"),
        ("majority", (3, 0, 1), 5, "no_quorum", "quorum"),
        ("majority", (3, 1, 1), 5, "adopted", "majority"),  # abstentions count towards the quorum
        ("two_thirds", (1, 1, 3), 5, "tie", "two_thirds"),
    ],
)
def test_decide(rule: str, counts: tuple[int, int, int], quorum: int | None, outcome: str, by: str) -> None:
    result = decide(rule, *counts, quorum_needed=quorum)
    assert (result.outcome, result.decided_by, result.quorum_needed) == (outcome, by, quorum)


def test_parse_rule_and_hands() -> None:
    assert parse_rule("Two-Thirds") == "two_thirds" and parse_rule("2/3") == "two_thirds"
    assert parse_rule("simpelt  flertal") == "majority" and parse_rule("sometimes") is None
    assert parse_hands(["12", "14", "3", "1"]) == ("12", 14, 3, 1)
    for bad in (
        ["12", "14", "3"],
        ["12", "-1", "3", "1"],
        ["12", "a", "3", "1"],
        ["12", "9999999", "0", "0"],
    ):
        with pytest.raises(UserError):
            parse_hands(bad)


FORMAT = "Write the vote's number and three counts: for, against, abstain. Example: {example}"
TOO_LARGE = "Those numbers are too large. Example: {example}"


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["12", "14", "3"], FORMAT),
        (["12", "14", "3", "1", "0"], FORMAT),
        (["12", "-1", "3", "1"], FORMAT),
        (["12", "a", "3", "1"], FORMAT),
        (["12", "1000000", "0", "0"], FORMAT),  # seven digits: not even read
        (["1234567", "1", "0", "0"], FORMAT),
        (["12", "100001", "0", "0"], TOO_LARGE),  # six digits, above 100 000
        (["12", "0", "100001", "0"], TOO_LARGE),
        (["12", "0", "0", "100001"], TOO_LARGE),
    ],
)
def test_parse_hands_refuses_with_the_reason(words: list[str], message: str) -> None:
    with pytest.raises(UserError) as err:
        parse_hands(words)
    assert (err.value.message, err.value.params) == (message, {"example": "/handcount 12 14 3 1"})


def test_parse_hands_takes_up_to_100000_hands() -> None:
    assert parse_hands(["123456", "100000", "100000", "100000"]) == ("123456", 100000, 100000, 100000)
    assert parse_hands(["7", "0", "0", "0"]) == ("7", 0, 0, 0)

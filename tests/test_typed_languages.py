"""What people type is read in all four languages: vote options, and the examples each reader is shown
can be typed back as they are."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.db import models as m
from bot.domain import vote_words
from bot.domain.votes import EXAMPLE
from bot.i18n import N_, get_translator
from bot.testing.harness import BotHarness, texts

CONTROLS = re.compile("[\u200e\u200f\u2066-\u2069]")
LANGS = ("da", "ar", "ti", "en")


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("until Friday 18:00", ("until", "Friday 18:00")),
        ("indtil fredag 18:00", ("until", "fredag 18:00")),
        ("حتى الجمعة 18:00", ("until", "الجمعة 18:00")),
        ("ክሳብ ዓርቢ 18:00", ("until", "ዓርቢ 18:00")),
        ("النصاب 5", ("quorum", "5")),
        ("ዝተሓተ ቁጽሪ 5", ("quorum", "5")),
        ("ዝተሓተ ቁጽሪ ድምጺ 5", ("quorum", "5")),
        ("beslutningsdygtig fremmødte", ("quorum", "fremmødte")),
        ("المصوّتون @Mette @yonas", ("voters", "@Mette @yonas")),
        ("ድምጺ ሃብቲ @mette", ("voters", "@mette")),
        ("البند 7", ("item", "7")),
        ("ነጥቢ ኣጀንዳ 7", ("item", "7")),
        ("punkt 7", ("item", "7")),
        ("الاجتماع 3", ("meeting", "3")),
        ("ኣኼባ 3", ("meeting", "3")),
    ],
)
def test_option_words_in_every_language(field: str, expected: tuple[str, str]) -> None:
    assert vote_words.keyword(field) == expected


def test_rules_and_attending_in_every_language() -> None:
    for words in ("two-thirds", "to tredjedele", "الثلثين", "أغلبية الثلثين", "ክልተ ሲሶ", "2/3"):
        assert vote_words.rule(words) == "two_thirds", words
    for words in ("majority", "simpelt flertal", "الأغلبية البسيطة", "أغلبية", "ቀሊል ብዙሕነት"):
        assert vote_words.rule(words) == "majority", words
    for words in ("attending", "fremmødte", "الحاضرين", "من الحاضرين", "ተሳተፍቲ"):
        assert vote_words.is_attending(words), words
    assert vote_words.rule("sometimes") is None and vote_words.keyword("Hvem hjælper?") is None


@pytest.mark.parametrize("lang", ["da", "ar", "ti"])
def test_every_translated_option_example_reads_back(lang: str) -> None:
    t = get_translator(lang)
    phrases = {
        N_("| until Friday 18:00"): "until",
        N_("| voters @mette @yonas @amal"): "voters",
        N_("| item 12"): "item",
        N_("| meeting 3"): "meeting",
        N_("| quorum 5"): "quorum",
    }
    for phrase, option in phrases.items():
        shown = CONTROLS.sub("", t.plain(phrase))
        assert shown != phrase, (lang, phrase)  # really in the reader's words
        found = vote_words.keyword(shown.lstrip("| "))
        assert found is not None and found[0] == option, (lang, shown)
    item, quorum = (
        f.strip() for f in CONTROLS.sub("", t.plain("| item 12 | quorum attending")).split("|")[1:]
    )
    found = vote_words.keyword(quorum)
    assert vote_words.keyword(item) == ("item", "12") and found is not None
    assert found[0] == "quorum" and vote_words.is_attending(found[1]), (lang, quorum)


async def test_the_vote_example_each_reader_sees_opens_that_vote(clocked_bot: BotHarness) -> None:
    """The example in the reader's language, typed as shown, opens a two-thirds vote with quorum 5 that
    closes on Friday at 18:00 (the clock: Monday 23 November 2026)."""
    bot = clocked_bot
    for n, lang in enumerate(LANGS):
        admin = bot.user(10 + n, "Koordinator", lang)
        group = bot.group(f"Netværk {lang}", admins=[admin])
        await bot.say(admin, "/setup", group)
        await bot.say(admin, f"/settings language {lang}", group)
        example = CONTROLS.sub("", get_translator(lang).plain(EXAMPLE))
        assert example.startswith("/vote ")
        if lang in ("ar", "ti"):
            assert "until" not in example and "quorum" not in example and "two-thirds" not in example
        replies = texts(await bot.say(admin, example, group))
        assert replies and "⚠️" not in replies[0], (lang, replies)
    async with bot.services.sessionmaker() as s:
        opened = (await s.scalars(select(m.Vote).order_by(m.Vote.id))).all()
    assert len(opened) == len(LANGS)
    for vote in opened:
        assert vote.rule == "two_thirds" and vote.quorum == 5
        assert vote.deadline == datetime(2026, 11, 27, 17, 0, tzinfo=UTC)  # Friday 18:00 in Copenhagen


@pytest.mark.parametrize("lang", LANGS)
def test_the_date_example_each_reader_sees_reads_back(lang: str) -> None:
    """Errors about times show forms in the reader's own words; each one reads back as shown."""
    from bot.domain.when import EXAMPLE as WHEN_EXAMPLE
    from bot.domain.when import parse_when

    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    shown = CONTROLS.sub("", get_translator(lang).plain(WHEN_EXAMPLE))
    script = {"ar": "[\u0600-\u06ff]", "ti": "[\u1200-\u137f]", "da": "kl\\.", "en": "pm"}[lang]
    assert re.search(script, shown), shown
    first, iso, tomorrow = (parse_when(part, "Europe/Copenhagen", now, lang) for part in shown.split(" · "))
    assert first == iso == datetime(2026, 12, 3, 16, 0, tzinfo=UTC), shown
    assert tomorrow == datetime(2026, 11, 24, 17, 0, tzinfo=UTC), shown  # 18:00 in Copenhagen

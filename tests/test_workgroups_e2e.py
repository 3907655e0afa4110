"""Working groups end to end: /parent by a coordinator of both networks only; the parent's final
agenda has "From the working groups" with each group's decisions since the parent's previous meeting;
/decisions all in the parent includes its working groups; followers stay separate; /parent none
unlinks."""

from __future__ import annotations

from bot.testing.fake_bot_api import Call
from bot.testing.harness import BotHarness, texts


def last_text(calls: list[Call], chat_id: int | None = None) -> str:
    found = texts(calls, chat_id)
    assert found, calls
    return found[-1]


async def decide(bot: BotHarness, admin: object, voter: object, group: object, question: str) -> None:
    """A vote in `group`, one hand for, closed: a decision in the log."""
    calls = await bot.say(admin, f"/vote {question}", group)  # type: ignore[arg-type]
    msg = next(c for c in calls if "For" in [b["text"] for b in c.buttons()])  # not a notice sent meanwhile
    await bot.press(voter, group, msg.message_id or 0, "For")  # type: ignore[arg-type]
    await bot.say(admin, "/closevote", group)  # type: ignore[arg-type]


async def test_working_group_decisions_reach_the_parent(clocked_bot: BotHarness) -> None:
    bot = clocked_bot  # Monday 23 November 2026, 10:00 in Copenhagen
    mette = bot.user(1, "Mette", "da", username="mette")  # coordinator of both
    hassan = bot.user(2, "Hassan", "da", username="hassan")  # coordinator of the working group only
    yonas = bot.user(3, "Yonas", "ti", username="yonas")  # member
    sara = bot.user(4, "Sara", "ar")  # follows the parent
    omar = bot.user(5, "Omar", "ar")  # follows the working group
    parent = bot.group("Integrationsrådet", admins=[mette])
    wg = bot.group("Arbejdsgruppe Bolig", admins=[mette, hassan])
    await bot.say(mette, "/setup", parent)
    await bot.say(mette, "/setup", wg)
    await bot.say(yonas, "/help", wg)
    await bot.say(sara, "/start net_integrationsraadet")
    await bot.say(omar, "/start net_arbejdsgruppe-bolig")

    # Who may link: a coordinator of both; not a member, not a coordinator of the group alone.
    assert last_text(await bot.say(yonas, "/parent integrationsraadet", wg), wg.id).startswith("⚠️")
    assert last_text(await bot.say(hassan, "/parent integrationsraadet", wg), wg.id).startswith("⚠️")
    assert last_text(await bot.say(mette, "/parent nowhere", wg), wg.id).startswith("⚠️")
    assert last_text(await bot.say(mette, "/parent arbejdsgruppe-bolig", wg), wg.id).startswith("⚠️")
    linked = last_text(await bot.say(mette, "/parent integrationsraadet", wg), wg.id)
    assert "Arbejdsgruppe Bolig" in linked and "Integrationsrådet" in linked and "⚠️" not in linked
    # No circles: the parent cannot become its own working group's working group.
    assert last_text(await bot.say(mette, "/parent arbejdsgruppe-bolig", parent), parent.id).startswith("⚠️")

    # The parent meets on 26 November and on 17 December.
    await bot.say(mette, "/newmeeting 26. november kl. 17 | Rådhuset", parent)
    await bot.say(mette, "/newmeeting 17. december kl. 17 | Rådhuset", parent)
    await bot.run_due()
    # A decision before the parent's previous meeting, and one after it.
    await decide(bot, mette, yonas, wg, "Vi søger puljen til boligrådgivning")
    await bot.advance(days=4)  # 27 November
    await decide(bot, mette, yonas, wg, "Vi holder åbent hus i januar")
    await decide(bot, mette, yonas, parent, "Rådet støtter sommerfesten")

    # /decisions in the parent: its own; with "all", its working groups' too.
    own = last_text(await bot.say(mette, "/decisions", parent), parent.id)
    assert "Rådet støtter sommerfesten" in own and "åbent hus" not in own
    everything = last_text(await bot.say(mette, "/decisions all", parent), parent.id)
    assert "Rådet støtter sommerfesten" in everything and "Vi holder åbent hus i januar" in everything
    assert "Vi søger puljen" in everything and "Arbejdsgruppe Bolig" in everything
    searched = last_text(await bot.say(mette, "/decisions all januar", parent), parent.id)
    assert "Vi holder åbent hus i januar" in searched and "sommerfesten" not in searched
    # In the working group, "all" is only a search word: the parent's decisions are not shown.
    assert "sommerfesten" not in last_text(await bot.say(mette, "/decisions all", wg), wg.id)

    # The final agenda of 17 December (sent 10 December): the group's decision since 26 November only.
    start = len(bot.api.all_calls)
    await bot.advance(days=13, hours=8)  # 10 December, after 17:00
    sent = [c for c in bot.api.all_calls[start:] if c.ok and c.method == "sendMessage"]
    final = next(
        c.plain_text or ""
        for c in sent
        if c.chat_id == parent.id and "Endelig dagsorden" in (c.plain_text or "")
    )
    section = final.split("Fra arbejdsgrupperne", 1)[1]
    assert "Arbejdsgruppe Bolig" in section and "Vi holder åbent hus i januar" in section
    assert "Vi søger puljen" not in final
    # The parent's follower reads it in Arabic, the heading included.
    sara_final = next(c.plain_text or "" for c in sent if c.chat_id == sara.id)
    assert "من مجموعات العمل" in sara_final and "Vi holder åbent hus i januar" in sara_final
    # Followers stay separate: the working group's follower gets nothing of the parent's.
    assert not [c for c in sent if c.chat_id == omar.id]

    # Unlinked: "all" no longer reaches the group.
    assert "⚠️" not in last_text(await bot.say(mette, "/parent none", wg), wg.id)
    after = last_text(await bot.say(mette, "/decisions all", parent), parent.id)
    assert "åbent hus" not in after and "Rådet støtter sommerfesten" in after


def test_final_agenda_sections_stay_short() -> None:
    """Approved minutes carry their whole text in the log: the final agenda shows one short line, and
    what the sections add stops within the budget with an ellipsis."""
    from datetime import UTC, datetime

    from bot.db import models as m
    from bot.render.between import SECTIONS_BUDGET, short_decision, within

    long = m.Decision(
        id=7,
        network_id=1,
        kind="minutes",
        text="2026-11-26 Rådhuset\n" + "Referat. " * 500,
        outcome="approved",
        details={},
        decided_at=datetime(2026, 11, 30, tzinfo=UTC),
    )
    short = short_decision(long)
    assert len(short.text) == 160 and short.text.endswith("…") and "\n" not in short.text
    assert len(long.text) > 4000  # the original is untouched
    lines = within([f"• punkt {i} " + "x" * 90 for i in range(40)], SECTIONS_BUDGET)
    assert lines[-1] == "…" and sum(len(x) + 1 for x in lines[:-1]) <= SECTIONS_BUDGET
    assert within(["a", "b"], SECTIONS_BUDGET) == ["a", "b"]

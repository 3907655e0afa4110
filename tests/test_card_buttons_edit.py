"""A card whose text was already shown is still edited when only its buttons change (a task added after
someone answered Going): the edit is skipped only when text and buttons are both unchanged."""

from __future__ import annotations

from bot.testing.harness import BotHarness


async def test_task_added_after_an_answer_reaches_the_group_card(clocked_bot: BotHarness) -> None:
    bot = clocked_bot
    mette = bot.user(1, "Mette", "da")
    lars = bot.user(2, "Lars", "da")
    group = bot.group("Rudersdal Netværk", admins=[mette])
    await bot.say(mette, "/setup", group)
    await bot.say(mette, "/newevent Fællesspisning | 3. december kl. 17 | Egebæk", group)
    card_id = max(
        mid for mid, msg in bot.api.messages[group.id].items() if "Fællesspisning" in (msg.get("text") or "")
    )
    await bot.press(lars, group, card_id, "Deltager")  # the card's text changes and is shown
    await bot.say(mette, "/addtask 1 Lave mad | 3", group)  # only the buttons change
    # A group's card is edited at most every few seconds: wait for the edit (each wait ends at a call).
    labels: list[str] = []
    for _ in range(100):
        labels = [b["text"] for b in bot.api.buttons(group.id, card_id)]
        if "🙋 Lave mad 0/3" in labels or not await bot.api.wait_change(10):
            break
    assert labels == [
        "Deltager",
        "Deltager ikke",
        "Påmind mig",
        "Føj til kalender",
        "🙋 Lave mad 0/3",
        "🗣 Tolk",
    ]

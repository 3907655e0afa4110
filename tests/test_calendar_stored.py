"""Stored VEVENTs (events.ics_vevent / ics_key): a fresh process builds the feed from the rows without
serializing, and a stored VEVENT is never used once anything it is made of changed (an edit, a
cancellation, PUBLIC_URL, the network's time zone, a change that bypassed the handlers)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import icalendar
import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import InvalidRequestError

from bot.db import models as m
from bot.domain import calendar, people
from bot.render import ics
from bot.testing.fake_bot_api import FakeChat
from bot.testing.harness import BotHarness
from bot.web.server import create_web_app


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    ics.clear_caches()
    yield
    ics.clear_caches()


class Serializations:
    """Counts icalendar serializations of VEVENTs; `fail = True` makes any further one an error."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        self.fail = False
        real = ics._serialize_vevent

        def spy(event: m.Event, tz: str, url: str | None) -> tuple[bytes, bytes]:
            if self.fail:
                raise AssertionError(f"event {event.id} serialized although its VEVENT is stored")
            self.calls += 1
            return real(event, tz, url)

        monkeypatch.setattr(ics, "_serialize_vevent", spy)


async def _setup(bot: BotHarness) -> tuple[str, FakeChat, list[int]]:
    admin = bot.user(1, "Mette", "da")
    group = bot.group("Rudersdal", admins=[admin])
    await bot.say(admin, "/setup", group)
    await bot.say(
        admin, "/newevent Fællesspisning <i> | 3. december kl. 17 | Egebæk | Mad, og spil; alle", group
    )
    await bot.say(admin, "/newevent Spilledag | 5. december kl. 13 | Biblioteket", group)
    async with bot.services.sessionmaker() as s:
        net = await people.network_for_chat(s, group.id)
        assert net is not None
        ids = list((await s.scalars(select(m.Event.id).order_by(m.Event.id))).all())
    assert len(ids) == 2
    return net.slug, group, ids


async def _feed(bot: BotHarness, slug: str) -> bytes:
    app = create_web_app(bot.services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get(f"/n/{slug}.ics")
    assert response.status_code == 200
    return response.content


async def _reference(bot: BotHarness, slug: str) -> bytes:
    """The feed as icalendar alone writes it: one Calendar object, nothing cached or stored."""
    async with bot.services.sessionmaker() as s:
        net = await people.network_by_slug(s, slug)
        assert net is not None
        now = bot.services.clock()
        events = await calendar.feed_events(s, net, now)
        url = bot.services.settings.public_url
        cal = ics.calendar_component(
            [(e, net) for e in events],
            name=net.name,
            now=now,
            url_for={e.id: calendar.event_url(url, net, e.id) for e in events},
        )
    return bytes(cal.to_ical())


async def _stored(bot: BotHarness) -> dict[int, tuple[str | None, str | None]]:
    async with bot.services.sessionmaker() as s:
        rows = await s.execute(select(m.Event.id, m.Event.ics_key, m.Event.ics_vevent))
        return {eid: (key, text) for eid, key, text in rows}


async def _current_keys(bot: BotHarness) -> dict[int, str]:
    async with bot.services.sessionmaker() as s:
        pairs = (await s.execute(select(m.Event, m.Network).join(m.Network))).all()
        url = bot.services.settings.public_url
        return {e.id: ics.stored_key(e, net.timezone, calendar.event_url(url, net, e.id)) for e, net in pairs}


def _vevents(data: bytes) -> dict[str, icalendar.Event]:
    return {str(c["UID"]): c for c in icalendar.Calendar.from_ical(data).walk("VEVENT")}


async def test_fresh_process_builds_the_feed_from_stored_vevents(
    clocked_bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    slug, _, ids = await _setup(clocked_bot)
    # Stored when created, with the key of the row as it is in the database.
    stored = await _stored(clocked_bot)
    assert {i: k for i, (k, _) in stored.items()} == await _current_keys(clocked_bot)
    assert all(text and "DTSTAMP:19700101T000000Z" in text for _, text in stored.values())
    # Other queries do not load the text (deferred), and touching it unloaded is an error, not a query.
    async with clocked_bot.services.sessionmaker() as s:
        event = await s.get(m.Event, ids[0])
        assert event is not None
        with pytest.raises(InvalidRequestError):
            _ = event.ics_vevent
    # A fresh process: nothing in memory, and icalendar may not serialize any VEVENT.
    ics.clear_caches()
    Serializations(monkeypatch).fail = True
    data = await _feed(clocked_bot, slug)
    assert data == await _reference(clocked_bot, slug)
    assert set(_vevents(data)) == {f"event-{i}@volbot" for i in ids}
    assert str(_vevents(data)[f"event-{ids[0]}@volbot"]["DESCRIPTION"]) == "Mad, og spil; alle"
    assert len(ics.VEVENTS) == 2  # read once, then served from memory
    assert await _feed(clocked_bot, slug) == data and ics.VEVENTS.hits == 2


async def test_edit_and_cancel_store_the_changed_vevent(
    clocked_bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    slug, group, (first, second) = await _setup(clocked_bot)
    admin = clocked_bot.user(1, "Mette", "da")
    before = await _stored(clocked_bot)
    await clocked_bot.say(admin, f"/editevent {first} place Nyt sted", group)
    await clocked_bot.say(admin, f"/editevent {second} when 6. december kl. 10", group)
    await clocked_bot.say(admin, f"/cancelevent {second}", group)
    after = await _stored(clocked_bot)
    assert {i: k for i, (k, _) in after.items()} == await _current_keys(clocked_bot)
    assert after[first][0] != before[first][0] and "LOCATION:Nyt sted" in str(after[first][1])
    assert after[second][0] != before[second][0] and "STATUS:CANCELLED" in str(after[second][1])
    assert "DTSTART;TZID=Europe/Copenhagen:20261206T100000" in str(after[second][1])

    ics.clear_caches()
    Serializations(monkeypatch).fail = True
    data = await _feed(clocked_bot, slug)
    assert data == await _reference(clocked_bot, slug)
    parsed = _vevents(data)
    assert str(parsed[f"event-{first}@volbot"]["LOCATION"]) == "Nyt sted"
    assert str(parsed[f"event-{second}@volbot"]["STATUS"]) == "CANCELLED"
    assert int(parsed[f"event-{second}@volbot"]["SEQUENCE"]) == 2


async def test_changes_outside_the_handlers_are_serialized_again_and_stored(
    clocked_bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    slug, _, (first, second) = await _setup(clocked_bot)
    spy = Serializations(monkeypatch)
    assert await _feed(clocked_bot, slug) == await _reference(clocked_bot, slug)
    assert spy.calls == 0  # stored at creation and still in memory

    # PUBLIC_URL changes: the URL is in every VEVENT, so neither memory nor the rows may serve them.
    clocked_bot.services.settings.public_url = "https://kalender.example.org/"
    data = await _feed(clocked_bot, slug)
    assert spy.calls == 2
    assert data == await _reference(clocked_bot, slug)
    assert str(_vevents(data)[f"event-{first}@volbot"]["URL"]) == (
        f"https://kalender.example.org/n/{slug}#event-{first}"
    )
    # …and the feed wrote them back: the next fresh process serializes nothing.
    stored = await _stored(clocked_bot)
    assert {i: k for i, (k, _) in stored.items()} == await _current_keys(clocked_bot)
    ics.clear_caches()
    spy.fail = True
    assert await _feed(clocked_bot, slug) == data
    spy.fail = False

    # A row changed without the handlers (no stored VEVENT written): only that event is made again.
    async with clocked_bot.services.sessionmaker() as s:
        await s.execute(update(m.Event).where(m.Event.id == second).values(title="Spilledag & quiz"))
        await s.commit()
    ics.clear_caches()
    calls = spy.calls
    data = await _feed(clocked_bot, slug)
    assert spy.calls == calls + 1
    assert str(_vevents(data)[f"event-{second}@volbot"]["SUMMARY"]) == "Spilledag & quiz"
    assert data == await _reference(clocked_bot, slug)

    # The network's time zone changes: every local time in the VEVENTs changes with it.
    async with clocked_bot.services.sessionmaker() as s:
        await s.execute(update(m.Network).where(m.Network.slug == slug).values(timezone="America/New_York"))
        await s.commit()
    calls = spy.calls
    data = await _feed(clocked_bot, slug)
    assert spy.calls == calls + 2
    assert data == await _reference(clocked_bot, slug)
    assert data.count(b"DTSTART;TZID=America/New_York:") == 2
    ics.clear_caches()
    spy.fail = True
    assert await _feed(clocked_bot, slug) == data


async def test_stored_vevent_with_a_matching_key_but_broken_text_is_made_again(
    clocked_bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    slug, _, (first, _second) = await _setup(clocked_bot)
    async with clocked_bot.services.sessionmaker() as s:
        await s.execute(update(m.Event).where(m.Event.id == first).values(ics_vevent="BEGIN:VEVENT\r\n"))
        await s.commit()
    ics.clear_caches()
    spy = Serializations(monkeypatch)
    assert await _feed(clocked_bot, slug) == await _reference(clocked_bot, slug)
    assert spy.calls == 1
    assert "DTSTAMP:19700101T000000Z" in str((await _stored(clocked_bot))[first][1])

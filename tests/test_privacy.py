"""Privacy over the whole schema: after /forgetme no row in any table names the person (checked over
`Base.metadata.sorted_tables`, so tables added later are covered), and /mydata exported every one
of those rows before. Another person's rows in the same tables are left alone."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Table, func, insert, select
from sqlalchemy.exc import IntegrityError

from bot.db import models as m
from bot.domain.privacy import person_columns, person_condition
from bot.testing.harness import BotHarness, texts

NAME, USERNAME, TG = "Zerihunprivacy", "zerihun_priv", 777_001


def _default(col: Any, seq: itertools.count[int]) -> Any:
    kind: Any = str
    for candidate in (col.type, getattr(col.type, "impl", None)):
        try:
            kind = candidate.python_type
            break
        except (NotImplementedError, AttributeError):
            continue
    if isinstance(col.type, JSON) or kind in (dict, list):
        return {}
    if kind is bool:
        return False
    if kind is int:
        return 1
    if kind is float:
        return 0.0
    if kind is datetime:
        return datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    length = getattr(col.type, "length", None) or 16
    return f"v{next(seq)}"[:length]


async def fill_every_table(session: Any, people: list[m.Person]) -> None:
    """One row per table and person in which every column that can name a person names them."""
    seq = itertools.count(1)
    for table in m.Base.metadata.sorted_tables:
        if table.name in ("persons", "networks"):
            continue
        personal = dict(person_columns(table))
        for person in people:
            values: dict[str, Any] = {}
            for col in table.columns:
                if col.primary_key and col.autoincrement is not False:
                    continue
                if col.primary_key:  # a natural key (send_slots.slot): a distinct value per row
                    values[col.name] = next(seq)
                    continue
                if col in personal:
                    values[col.name] = person.id if personal[col] == "id" else person.tg_id
                    continue
                fk = next(iter(col.foreign_keys), None)
                if fk is not None:
                    values[col.name] = await session.scalar(select(func.min(fk.column)))
                elif not col.nullable and col.default is None and col.server_default is None:
                    values[col.name] = _default(col, seq)
                elif col.name.endswith("message_id"):
                    values[col.name] = 5
            try:
                async with session.begin_nested():
                    await session.execute(insert(table).values(values))
            except IntegrityError:
                pass  # a row like it exists already (e.g. the membership from the real flow)
    await session.commit()


async def rows_naming(session: Any, table: Table, person: m.Person) -> list[dict[str, Any]]:
    cond = person_condition(table, person)
    if cond is None:
        return []
    return [dict(r) for r in (await session.execute(select(table).where(cond))).mappings()]


def mentions(value: Any, tg_id: int, words: tuple[str, ...]) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value == tg_id
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str):
        return any(w.lower() in value.lower() for w in words)
    return False


async def test_forgetme_leaves_no_row_naming_the_person_and_mydata_exports_them_all(bot: BotHarness) -> None:
    admin = bot.user(1, "Mette", "en", username="mette")
    zeri = bot.user(TG, NAME, "en", username=USERNAME)
    group = bot.group("Netværk", admins=[admin])
    await bot.say(admin, "/setup", group)
    await bot.say(zeri, "hello", group)  # a member now
    await bot.say(zeri, "/start net_netvaerk")  # and a follower
    await bot.say(admin, "/settings translator add @zerihun_priv ar", group)

    async with bot.services.sessionmaker() as s:
        z = await s.scalar(select(m.Person).where(m.Person.tg_id == TG))
        mette = await s.scalar(select(m.Person).where(m.Person.tg_id == 1))
        assert z is not None and mette is not None
        await fill_every_table(s, [z, mette])
        naming: dict[str, list[dict[str, Any]]] = {}
        for table in m.Base.metadata.sorted_tables:
            if person_columns(table):
                naming[table.name] = await rows_naming(s, table, z)
                assert naming[table.name], f"the test put no row naming the person in {table.name}"
        theirs_before = {t.name: len(await rows_naming(s, t, mette)) for t in m.Base.metadata.sorted_tables}
    assert {"memberships", "translators", "notices", "dialogues"} <= set(naming)

    # /mydata: a file with the person and every row that names them
    calls = await bot.say(zeri, "/mydata")
    doc = next(c for c in calls if c.method == "sendDocument")
    export = json.loads(doc.params["document"].content)
    assert export["person"]["tg_id"] == TG and export["person"]["username"] == USERNAME
    exported = [row for section in export.values() if isinstance(section, list) for row in section]
    for table_name, rows in naming.items():
        columns = set(m.Base.metadata.tables[table_name].c.keys())
        for row in rows:
            assert any(set(e) == columns and e.get("id") == row["id"] for e in exported), (table_name, row)

    # /forgetme, confirmed
    calls = await bot.say(zeri, "/forgetme")
    msg = next(c for c in calls if c.method == "sendMessage")
    replies = texts(await bot.press(zeri, zeri.id, msg.message_id, 1))
    assert any("deleted" in r for r in replies), replies

    async with bot.services.sessionmaker() as s:
        for table in m.Base.metadata.sorted_tables:
            for row in (await s.execute(select(table))).mappings():
                for column, value in row.items():
                    if column == "id":
                        continue
                    assert not mentions(value, TG, (NAME, USERNAME)), (table.name, column, dict(row))
            for col, kind in person_columns(table):
                if kind == "id":
                    assert not await s.scalar(select(func.count()).select_from(table).where(col == z.id))
        # the other person's rows are all still there, and the network too
        theirs_after = {t.name: len(await rows_naming(s, t, mette)) for t in m.Base.metadata.sorted_tables}
        assert theirs_after == theirs_before
        assert await s.scalar(select(func.count()).select_from(m.Network)) == 1
        assert await s.scalar(select(func.count()).select_from(m.Person).where(m.Person.tg_id == TG)) == 0

"""Privacy over the whole schema: after /forgetme no row in any table names the person (checked over
`Base.metadata.sorted_tables`, so tables added later are covered), and /mydata exported every one
of those rows before. Another person's rows in the same tables are left alone."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Table, func, insert, or_, select
from sqlalchemy.exc import IntegrityError

from bot.db import models as m
from bot.domain.privacy import person_columns
from bot.testing.harness import BotHarness, texts

NAME, USERNAME, TG = "Zerihunprivacy", "zerihun_priv", 777_001

# Written by hand, NOT derived from the code under test: the columns that can name a person, per
# table — "id" (a persons.id) or "tg" (a Telegram user id or a private chat's id).
PERSONAL: dict[str, dict[str, str]] = {
    "dialogues": {"chat_id": "tg", "user_tg_id": "tg"},
    "broadcasts": {"author_id": "id", "progress_chat_id": "tg"},
    "content_translations": {"translator_id": "id"},
    "events": {"creator_id": "id", "card_chat_id": "tg", "announce_chat_id": "tg"},
    "meetings": {"created_by": "id", "minutes_chat_id": "tg"},
    "series": {"creator_id": "id"},
    "event_tasks": {"created_by": "id"},
    "task_helpers": {"person_id": "id"},
    "event_guests": {"added_by": "id"},
    "waiting_list": {"person_id": "id", "added_by": "id"},
    "interpreter_requests": {"person_id": "id"},
    "interpreter_confirmations": {"confirmed_by": "id"},
    "agenda_attachments": {"uploader_id": "id"},
    "action_items": {"creator_id": "id", "owner_id": "id", "done_by": "id"},
    "memberships": {"person_id": "id"},
    "notices": {"person_id": "id", "chat_id": "tg"},
    "translators": {"person_id": "id"},
    "agenda_items": {"submitter_id": "id"},
    "attendance": {"person_id": "id"},
    "objections": {"person_id": "id"},
    "rsvps": {"person_id": "id"},
    "votes": {"created_by": "id", "chat_id": "tg"},
    "ballots": {"person_id": "id"},
    "vote_voters": {"person_id": "id"},
}
# Every other column of every table, so that a column added later must be classified here.
NOT_PERSONAL: dict[str, set[str]] = {
    "dialogues": {"id", "kind", "step", "data", "updated_at"},
    "networks": {
        "id",
        "chat_id",
        "name",
        "slug",
        "timezone",
        "language",
        "agenda_deadline_days",
        "final_agenda_days",
        "minutes_due_days",
        "objection_days",
        "vote_rule",
        "vote_quorum",
        "require_approval",
        "created_at",
    },
    "send_slots": {"slot"},
    "broadcasts": {
        "id",
        "network_id",
        "text",
        "language",
        "due_at",
        "state",
        "total",
        "progress_message_id",
        "created_at",
    },
    "content_translations": {"id", "subject", "subject_id", "language", "fields", "created_at"},
    "events": {
        "id",
        "network_id",
        "title",
        "place",
        "description",
        "starts_at",
        "ends_at",
        "open_to_all",
        "language",
        "status",
        "sequence",
        "card_message_id",
        "created_at",
        "updated_at",
        "ics_vevent",
        "ics_key",
        "series_id",
        "recurrence_at",
        "announcement",
    },
    "series": {
        "id",
        "network_id",
        "kind",
        "rrule",
        "timezone",
        "dtstart",
        "duration_minutes",
        "title",
        "place",
        "description",
        "language",
        "status",
        "sequence",
        "horizon_until",
        "created_at",
        "updated_at",
    },
    "event_tasks": {"id", "event_id", "title", "needed", "created_at"},
    "task_helpers": {"id", "task_id", "created_at"},
    "event_places": {"event_id", "places", "updated_at"},
    # A guest is someone without Telegram, named by the coordinator who added them; not a person row.
    "event_guests": {"id", "event_id", "name", "created_at"},
    "waiting_list": {"id", "event_id", "guest_name", "press_key", "created_at"},
    "interpreter_requests": {"id", "subject", "subject_id", "language", "created_at"},
    "interpreter_confirmations": {"id", "subject", "subject_id", "language", "created_at"},
    # A hash of the chat id and a time slot: it names nobody.
    "chat_send_slots": {"chat_key", "slot"},
    "agenda_attachments": {"id", "item_id", "kind", "file_id", "file_unique_id", "file_name", "created_at"},
    # owner_name: the name as written in /todo for someone the bot does not know (free text, like minutes).
    "action_items": {"id", "network_id", "owner_name", "text", "due_at", "status", "done_at", "created_at"},
    "network_options": {"network_id", "parent_id", "publish_decisions"},
    "meetings": {
        "id",
        "network_id",
        "starts_at",
        "place",
        "status",
        "minutes_state",
        "minutes_text",
        "minutes_file_id",
        "minutes_posted_at",
        "minutes_message_id",
        "created_at",
        "series_id",
    },
    "memberships": {
        "id",
        "network_id",
        "is_member",
        "is_coordinator",
        "is_follower",
        "followed_at",
        "created_at",
    },
    "notices": {
        "id",
        "kind",
        "dedup_key",
        "network_id",
        "ref_id",
        "payload",
        "due_at",
        "state",
        "attempts",
        "claimed_by",
        "claimed_at",
        "sent_at",
        "message_id",
        "last_error",
        "created_at",
    },
    "standing_items": {"id", "network_id", "title", "placement", "position"},
    "translators": {"id", "network_id", "language"},
    "agenda_items": {"id", "meeting_id", "title", "description", "position", "late", "status", "created_at"},
    "attendance": {"id", "meeting_id", "status", "updated_at"},
    "objections": {"id", "meeting_id", "reason", "created_at"},
    "rsvps": {"id", "event_id", "status", "remind", "updated_at"},
    "votes": {
        "id",
        "network_id",
        "meeting_id",
        "agenda_item_id",
        "question",
        "message_id",
        "deadline",
        "status",
        "rule",
        "quorum",
        "quorum_attending",
        "restricted",
        "outcome",
        "hand_for",
        "hand_against",
        "hand_abstain",
        "revision",
        "shown_revision",
        "created_at",
        "closed_at",
    },
    "ballots": {"id", "vote_id", "choice", "updated_at"},
    "decisions": {
        "id",
        "network_id",
        "kind",
        "meeting_id",
        "agenda_item_id",
        "vote_id",
        "text",
        "outcome",
        "details",
        "decided_at",
    },
    "vote_voters": {"id", "vote_id"},
}
# The person's own row: deleted whole by /forgetme.
THE_PERSON = "persons"


def test_every_column_in_the_schema_is_classified() -> None:
    """A column added to the models fails here until it is put in PERSONAL or NOT_PERSONAL."""
    unclassified, stale, both = [], [], []
    for table in m.Base.metadata.sorted_tables:
        if table.name == THE_PERSON:
            continue
        personal = set(PERSONAL.get(table.name, {}))
        other = NOT_PERSONAL.get(table.name)
        assert other is not None, f"new table {table.name}: classify its columns in tests/test_privacy.py"
        names = set(table.c.keys())
        unclassified += [f"{table.name}.{c}" for c in sorted(names - personal - other)]
        stale += [f"{table.name}.{c}" for c in sorted((personal | other) - names)]
        both += [f"{table.name}.{c}" for c in sorted(personal & other)]
    assert not unclassified, f"classify as personal or not: {unclassified}"
    assert not stale and not both, (stale, both)
    assert set(PERSONAL) | set(NOT_PERSONAL) | {THE_PERSON} == set(m.Base.metadata.tables)


def test_person_columns_finds_exactly_the_personal_columns() -> None:
    """/mydata and /forgetme find personal columns by rule; the rule must agree with the hand list."""
    for table in m.Base.metadata.sorted_tables:
        if table.name == THE_PERSON:
            continue
        found = {col.name: kind for col, kind in person_columns(table)}
        assert found == PERSONAL.get(table.name, {}), table.name


def naming_condition(table: Table, person: m.Person) -> Any | None:
    cols = PERSONAL.get(table.name, {})
    conds = [table.c[c] == (person.id if kind == "id" else person.tg_id) for c, kind in cols.items()]
    return or_(*conds) if conds else None


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
    """One row per table and person in which every column that can name a person names them; and,
    in tables with several such columns, rows that name the first person in ONE column and the
    second in all the others (found only by a rule that looks at every column)."""
    seq = itertools.count(1)
    for table in m.Base.metadata.sorted_tables:
        if table.name in ("persons", "networks"):
            continue
        personal = {table.c[c]: kind for c, kind in PERSONAL.get(table.name, {}).items()}
        plans: list[dict[Any, m.Person]] = [dict.fromkeys(personal, person) for person in people]
        if len(personal) > 1 and len(people) > 1:
            plans += [{c: people[0] if c is one else people[1] for c in personal} for one in personal]
        for plan in plans if personal else [{} for _ in people]:
            values: dict[str, Any] = {}
            for col in table.columns:
                if col.primary_key and col.autoincrement is not False:
                    continue
                if col.primary_key:  # a natural key (send_slots.slot): a distinct value per row
                    values[col.name] = next(seq)
                    continue
                if col in personal:
                    person = plan[col]
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
    cond = naming_condition(table, person)
    if cond is None:
        return []
    return [dict(r) for r in (await session.execute(select(table).where(cond))).mappings()]


async def only_naming(session: Any, table: Table, person: m.Person, other: m.Person) -> list[dict[str, Any]]:
    """Rows naming `person` and not `other`."""
    return [
        r
        for r in await rows_naming(session, table, person)
        if not any(names(table.name, r, other.id, other.tg_id).values())
    ]


def names(table_name: str, row: dict[str, Any], person_id: int, tg_id: int) -> dict[str, bool]:
    """For each personal column of the row: does it name this person?"""
    return {
        c: row.get(c) == (person_id if kind == "id" else tg_id)
        for c, kind in PERSONAL.get(table_name, {}).items()
    }


# /mydata's sections, by hand: section name -> table (sections not listed are named by their table).
SECTIONS = {
    "translator_roles": "translators",
    "named_voter_of": "vote_voters",
    "events_created": "events",
    "broadcasts_written": "broadcasts",
    "meetings_created": "meetings",
    "agenda_items_submitted": "agenda_items",
    "votes_opened": "votes",
    "translations_written": "content_translations",
    "tasks_helping": "task_helpers",
    "tasks_created": "event_tasks",
    "guests_added": "event_guests",
    "interpreters_confirmed": "interpreter_confirmations",
    "agenda_files_attached": "agenda_attachments",
    "action_items_owned": "action_items",
    "action_items_noted": "action_items",
}


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
            if table.name in PERSONAL:
                naming[table.name] = await rows_naming(s, table, z)
                assert naming[table.name], f"the test put no row naming the person in {table.name}"
        theirs_before = {
            t.name: {r["id"] for r in await only_naming(s, t, mette, z)}
            for t in m.Base.metadata.sorted_tables
        }
        z_id, z_created = z.id, z.created_at.isoformat()
    assert set(naming) == set(PERSONAL)
    mixed = {t: [r for r in rows if not all(names(t, r, z_id, TG).values())] for t, rows in naming.items()}
    # waiting_list: one place per person and event (unique), so the rows mixing two people clash there
    mixable = {t for t, cols in PERSONAL.items() if len(cols) > 1} - {"waiting_list"}
    assert {t for t, rows in mixed.items() if rows} == mixable

    # /mydata: a file with the person and every row that names them
    calls = await bot.say(zeri, "/mydata")
    doc = next(c for c in calls if c.method == "sendDocument")
    export = json.loads(doc.params["document"].content)
    assert export["person"]["tg_id"] == TG and export["person"]["username"] == USERNAME
    assert export["person"]["created_at"] == z_created  # datetimes as ISO 8601 text
    # every section is a table's rows (named by hand here), and every row in it names the person
    sections = {name: SECTIONS.get(name, name) for name in export if name != "person"}
    assert set(sections.values()) <= set(PERSONAL), sections
    exported: dict[str, set[int]] = {}
    for name, table_name in sections.items():
        columns = set(m.Base.metadata.tables[table_name].c.keys())
        for row in export[name]:
            assert set(row) == columns, (name, row)
            assert any(names(table_name, row, z_id, TG).values()), (name, row)  # not another's row
            exported.setdefault(table_name, set()).add(row["id"])
    for table_name, rows in naming.items():
        assert {r["id"] for r in rows} <= exported.get(table_name, set()), table_name
        assert len(rows) == sum(1 for n, t in sections.items() for r in export[n] if t == table_name), (
            table_name
        )

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
            for col_name, kind in PERSONAL.get(table.name, {}).items():
                value = z.id if kind == "id" else TG
                left = await s.scalar(
                    select(func.count()).select_from(table).where(table.c[col_name] == value)
                )
                assert not left, (table.name, col_name)
        # the other person's rows are all still there, and the network too
        # the other person's own rows are all still there (rows shared with the person were cleared of
        # them, or went when the column naming the person may not be empty)
        for t in m.Base.metadata.sorted_tables:
            assert theirs_before[t.name] <= {r["id"] for r in await rows_naming(s, t, mette)}, t.name
        assert await s.scalar(select(func.count()).select_from(m.Network)) == 1
        assert await s.scalar(select(func.count()).select_from(m.Person).where(m.Person.tg_id == TG)) == 0


def test_person_columns_rule_covers_tables_added_later() -> None:
    """The rule /mydata and /forgetme use as a catch-all, on a made-up table: foreign keys to persons,
    big integers named like a chat id, a Telegram id or a user; nothing else."""
    from sqlalchemy import BigInteger, Column, ForeignKey, Integer, MetaData, String
    from sqlalchemy import Table as SaTable
    from sqlalchemy.types import TypeDecorator

    from bot.db.models import UTCDateTime

    class BigId(TypeDecorator[int]):
        impl = BigInteger
        cache_ok = True

    md = MetaData()
    SaTable("persons", md, Column("id", Integer, primary_key=True))
    later = SaTable(
        "added_later",
        md,
        Column("id", Integer, primary_key=True),
        Column("owner_id", ForeignKey("persons.id")),
        Column("reply_chat_id", BigInteger),
        Column("forwarded_tg_id_x", BigInteger),
        Column("reporting_user", BigInteger),
        Column("chat_id_hash", BigInteger),  # not ending in chat_id
        Column("total", BigInteger),
        Column("user_note", String(20)),  # not a number
        Column("tg_id_small", Integer),  # not a big integer
        Column("seen_at", UTCDateTime),
        Column("wrapped_chat_id", BigId),  # a big integer behind a type decorator
    )
    assert [(c.name, kind) for c, kind in person_columns(later)] == [
        ("owner_id", "id"),
        ("reply_chat_id", "tg"),
        ("forwarded_tg_id_x", "tg"),
        ("reporting_user", "tg"),
        ("wrapped_chat_id", "tg"),
    ]
    # the persons table itself is not "naming a person" (its row IS the person)
    assert person_columns(md.tables["persons"]) == []
    # a group-only chat id (networks.chat_id) never names a person
    assert person_columns(m.Network.__table__) == []

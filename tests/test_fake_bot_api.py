"""The local Bot API fake, exercised over real HTTP with PTB's own Bot."""

from __future__ import annotations

import asyncio
import html
import io
from collections.abc import AsyncIterator

import pytest
import telegram
from pydantic import BaseModel
from telegram import (
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot.console import group_chat_id, run_console
from bot.testing.fake_bot_api import (
    BOT_ID,
    BOT_USERNAME,
    FakeBotAPI,
    FakeUser,
    group_chat,
    html_to_plain,
    private_chat,
)

ANN = FakeUser(101, "Ann", username="ann", language_code="da")
BOB = FakeUser(102, "Bob", language_code="ar")


def keyboard(*labels: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=f"k:{label}") for label in labels]]
    )


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as fake:
        yield fake


@pytest.fixture
async def bot(api: FakeBotAPI) -> AsyncIterator[telegram.Bot]:
    request = HTTPXRequest(connection_pool_size=8, read_timeout=2.0)
    async with telegram.Bot(
        "123:test", base_url=api.base_url, base_file_url=api.base_file_url, request=request
    ) as b:
        yield b


async def test_get_me_and_urls(api: FakeBotAPI, bot: telegram.Bot) -> None:
    assert api.base_url.startswith("http://127.0.0.1:") and api.base_url.endswith("/bot")
    me = await bot.get_me()
    assert (me.id, me.username, me.first_name, me.is_bot) == (BOT_ID, BOT_USERNAME, "volbot", True)
    assert api.calls("getMe")[0].status == 200


async def test_send_edit_and_state(api: FakeBotAPI, bot: telegram.Bot) -> None:
    m1 = await bot.send_message(
        ANN.id, "<b>Meeting</b> &amp; food", parse_mode="HTML", reply_markup=keyboard("Yes")
    )
    m2 = await bot.send_message(ANN.id, "second")
    assert (m1.message_id, m2.message_id) == (1, 2)
    assert m1.text == "Meeting & food" and m1.from_user and m1.from_user.id == BOT_ID
    assert m1.reply_markup and m1.reply_markup.inline_keyboard[0][0].callback_data == "k:Yes"
    stored = api.messages[ANN.id][1]
    assert stored["text"] == "Meeting & food"
    assert api.sent_messages(ANN.id)[0].text == "<b>Meeting</b> &amp; food"

    edited = await bot.edit_message_text(
        "<b>Meeting</b> moved", ANN.id, 1, parse_mode="HTML", reply_markup=keyboard("No")
    )
    assert isinstance(edited, telegram.Message) and edited.text == "Meeting moved"
    assert api.buttons(ANN.id, 1)[0]["callback_data"] == "k:No"
    with pytest.raises(BadRequest, match=r"(?i)not modified"):
        await bot.edit_message_text(
            "<b>Meeting</b> moved", ANN.id, 1, parse_mode="HTML", reply_markup=keyboard("No")
        )
    await bot.edit_message_reply_markup(ANN.id, 1, reply_markup=None)
    assert "reply_markup" not in api.messages[ANN.id][1]
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", ANN.id, 77)
    assert await bot.delete_message(ANN.id, 2)
    assert 2 not in api.messages[ANN.id]


async def test_validation_like_telegram(bot: telegram.Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(ANN.id, "a <b>b", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(ANN.id, "1 < 2 <x>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)too long"):
        await bot.send_message(ANN.id, "x" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(
            ANN.id,
            "x",
            reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("a", callback_data="x" * 65)]]),
        )
    assert html_to_plain("<a href='https://x'>x</a> &lt;3") == "x <3"


async def test_callback_flow(api: FakeBotAPI, bot: telegram.Bot) -> None:
    chat = group_chat(-1001234, "Volunteers")
    msg = await bot.send_message(chat.id, "Vote", reply_markup=keyboard("Yes", "No"))
    qid = api.press(BOB, chat, msg.message_id, "No")
    updates = await bot.get_updates(timeout=1)
    cq = updates[-1].callback_query
    assert cq is not None and cq.data == "k:No" and cq.from_user.id == BOB.id
    assert cq.message is not None and cq.message.message_id == msg.message_id
    await cq.answer("Noted")
    answer = await api.answer_of(qid)
    assert answer.params["text"] == "Noted"
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(qid)


async def test_document_upload_multipart(api: FakeBotAPI, bot: telegram.Bot) -> None:
    data = "Referat æøå\n".encode() * 100
    msg = await bot.send_document(
        ANN.id, io.BytesIO(data), filename='møde "1".txt', caption="<i>minutes</i>", parse_mode="HTML"
    )
    assert msg.document is not None and msg.document.file_name == 'møde "1".txt'
    assert msg.caption == "minutes"
    call = api.sent_messages(ANN.id)[-1]
    upload = call.params["document"]
    assert upload.filename == 'møde "1".txt' and upload.content == data
    assert call.params["parse_mode"] == "HTML"
    # the file can be fetched back through base_file_url
    file = await bot.get_file(msg.document.file_id)
    assert bytes(await file.download_as_bytearray()) == data


async def test_long_poll_returns_promptly(api: FakeBotAPI, bot: telegram.Bot) -> None:
    async def inject_later() -> None:
        await asyncio.sleep(0.2)
        api.inject_message(ANN, text="/start@volbot_test_bot hello")

    task = asyncio.create_task(inject_later())
    # A long poll of a minute returns with the update as soon as it is injected (were it to wait
    # out its timeout instead, wait_for would give up first).
    updates = await asyncio.wait_for(bot.get_updates(timeout=60, read_timeout=90), 30)
    await task
    assert len(updates) == 1
    message = updates[0].message
    assert message is not None and message.text == "/start@volbot_test_bot hello"
    assert message.entities[0].type == "bot_command" and message.entities[0].length == len(
        "/start@volbot_test_bot"
    )
    assert message.from_user is not None and message.from_user.language_code == "da"
    # confirmed with offset -> gone; empty poll with timeout 0 returns immediately
    assert await bot.get_updates(offset=updates[0].update_id + 1, timeout=0) == ()


async def test_get_updates_offset_limit_allowed(api: FakeBotAPI, bot: telegram.Bot) -> None:
    ids = [api.inject_message(ANN, text=f"m{i}")["message_id"] for i in range(5)]
    assert ids == [1, 2, 3, 4, 5]
    first = await bot.get_updates(limit=2)
    assert [u.message.text for u in first if u.message] == ["m0", "m1"]
    rest = await bot.get_updates(offset=first[-1].update_id + 1)
    assert [u.message.text for u in rest if u.message] == ["m2", "m3", "m4"]
    api.inject_update({"chat_member": {"chat": private_chat(ANN).to_dict()}})
    api.inject_message(ANN, text="after")
    got = await bot.get_updates(offset=rest[-1].update_id + 1, allowed_updates=["message"])
    assert [u.message.text for u in got if u.message] == ["after"]


async def test_commands_stored_per_language_and_scope(api: FakeBotAPI, bot: telegram.Bot) -> None:
    await bot.set_my_commands([BotCommand("start", "Start")])
    await bot.set_my_commands([BotCommand("start", "Begynd")], language_code="da")
    await bot.set_my_commands([BotCommand("admin", "Admin")], scope=BotCommandScopeChat(-100))
    assert api.my_commands() == [{"command": "start", "description": "Start"}]
    assert api.my_commands("da")[0]["description"] == "Begynd"
    assert api.my_commands(scope={"type": "chat", "chat_id": -100})[0]["command"] == "admin"
    got = await bot.get_my_commands(language_code="da")
    assert got[0].description == "Begynd"


async def test_admins_and_members(api: FakeBotAPI, bot: telegram.Bot) -> None:
    chat = group_chat(-1009, "Board")
    api.set_admins(chat.id, [ANN.id, BOT_ID], creator=BOB.id)
    admins = await bot.get_chat_administrators(chat.id)
    assert {a.user.id: a.status for a in admins} == {
        BOB.id: "creator",
        ANN.id: "administrator",
        BOT_ID: "administrator",
    }
    assert (await bot.get_chat_member(chat.id, ANN.id)).status == "administrator"
    assert (await bot.get_chat_member(chat.id, 555)).status == "left"
    api.inject_message(FakeUser(555, "Cy"), chat, "hi")
    assert (await bot.get_chat_member(chat.id, 555)).status == "member"
    info = await bot.get_chat(chat.id)
    assert info.title == "Board" and info.type == "supergroup"


async def test_rate_limits_produce_429(api: FakeBotAPI, bot: telegram.Bot) -> None:
    api.enforce_limits = True
    # private chat: a small burst, then 1/s
    results = []
    for i in range(5):
        try:
            await bot.send_message(ANN.id, f"p{i}")
            results.append("ok")
        except RetryAfter as e:
            results.append(str(e))
    assert results[:3] == ["ok", "ok", "ok"] and "Retry in 1 " in results[3]
    # groups: 20 per minute
    for i in range(20):
        await bot.send_message(-500 - (i // 20), f"g{i}")
    with pytest.raises(RetryAfter):
        await bot.send_message(-500, "one too many")
    # overall 30 per second across chats (24 sent in this second so far)
    api.reset_limits()
    sent = 0
    with pytest.raises(RetryAfter):
        for i in range(40):
            await bot.send_message(1000 + i, "x")
            sent += 1
    assert sent == 30
    assert api.count_429 == 4
    assert api.calls("sendMessage")[-1].status == 429
    # answerCallbackQuery is not limited, even with the overall window full
    first = await api.wait_for(lambda c: c.ok and c.method == "sendMessage", start=0)
    assert first.chat_id == ANN.id and first.message_id == 1
    qid = api.press_button(ANN, ANN.id, 1, "k:x")
    assert await bot.answer_callback_query(qid)


async def test_fail_next_kinds(api: FakeBotAPI) -> None:
    request = HTTPXRequest(read_timeout=0.3, connection_pool_size=4)
    async with telegram.Bot("123:test", base_url=api.base_url, request=request) as bot:
        api.fail_next("sendMessage", kind="429", retry_after=7)
        with pytest.raises(RetryAfter) as info:
            await bot.send_message(1, "a")
        assert "7" in str(info.value)
        api.fail_next("sendMessage", chat_id=2, kind="403")
        await bot.send_message(1, "not chat 2, goes through")
        with pytest.raises(Forbidden):
            await bot.send_message(2, "a")
        api.fail_next("sendMessage", kind="400", description="Bad Request: chat not found")
        with pytest.raises(BadRequest, match=r"(?i)chat not found"):
            await bot.send_message(1, "a")
        api.fail_next("sendMessage", kind="500")
        with pytest.raises(NetworkError):
            await bot.send_message(1, "a")
        api.fail_next("sendMessage", kind="502")
        with pytest.raises(NetworkError):
            await bot.send_message(1, "a")
        api.timeout_delay = 1.0
        api.fail_next("sendMessage", kind="timeout")
        with pytest.raises(TimedOut):
            await bot.send_message(1, "lost")
        api.fail_next("sendMessage", kind="timeout", deliver=True)
        with pytest.raises(TimedOut):
            await bot.send_message(1, "delivered but unanswered")
        await bot.send_message(1, "delivered but unanswered")
        assert api.duplicates(1) == {(1, "delivered but unanswered"): 2}
        assert [c.text for c in api.sent_messages(1)] == [
            "not chat 2, goes through",
            "delivered but unanswered",
            "delivered but unanswered",
        ]


async def test_block_gives_forbidden(api: FakeBotAPI, bot: telegram.Bot) -> None:
    api.block(ANN.id)
    with pytest.raises(Forbidden, match=r"(?i)blocked"):
        await bot.send_message(ANN.id, "hello")
    api.unblock(ANN.id)
    await bot.send_message(ANN.id, "hello")
    assert api.duplicates() == {}


async def test_next_message_and_wait_for(api: FakeBotAPI, bot: telegram.Bot) -> None:
    async def reply_later() -> None:
        await asyncio.sleep(0.05)
        await bot.send_message(ANN.id, "one")
        await bot.send_message(BOB.id, "other chat")
        await bot.send_message(ANN.id, "two")

    api.inject_message(ANN, text="hi")
    task = asyncio.create_task(reply_later())
    assert (await api.next_message(ANN.id)).text == "one"
    assert (await api.next_message(ANN.id)).text == "two"
    await task
    with pytest.raises(AssertionError, match=r"(?i)recent calls"):
        await api.next_message(ANN.id, timeout=0.2)


async def test_many_sequential_sends_all_recorded_in_order(api: FakeBotAPI, bot: telegram.Bot) -> None:
    # (How fast: bench/broadcast.py prints capacity; a test does not time the machine.)
    n = 300
    for i in range(n):
        await bot.send_message(1 + i % 10, f"m{i}")
    assert [c.text for c in api.sent_messages()] == [f"m{i}" for i in range(n)]


async def test_membership_updates(api: FakeBotAPI, bot: telegram.Bot) -> None:
    chat = group_chat(-1002, "Helpers")
    api.bot_added(chat, ANN, as_admin=True)
    api.new_chat_member(chat, BOB, by=ANN)
    updates = await bot.get_updates(allowed_updates=Update.ALL_TYPES)
    assert updates[0].my_chat_member is not None
    assert updates[0].my_chat_member.new_chat_member.status == "administrator"
    joined = [u.message.new_chat_members for u in updates if u.message and u.message.new_chat_members]
    assert [m[0].id for m in joined] == [BOT_ID, BOB.id]
    assert (await bot.get_chat_member(chat.id, BOB.id)).status == "member"


async def test_webhook_delivery_on_loopback(api: FakeBotAPI, bot: telegram.Bot) -> None:
    received: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()

    async def endpoint(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        length = int(
            next(h for h in head.split("\r\n") if h.lower().startswith("content-length")).split(":")[1]
        )
        secret = next(
            h for h in head.split("\r\n") if h.lower().startswith("x-telegram-bot-api-secret-token")
        )
        received.put_nowait((secret.split(":")[1].strip(), await reader.readexactly(length)))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(endpoint, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cret")
        assert (await bot.get_webhook_info()).url.endswith("/hook")
        with pytest.raises(telegram.error.Conflict):
            await bot.get_updates()
        api.inject_message(ANN, text="via webhook")
        secret, body = await asyncio.wait_for(received.get(), 5)
        assert secret == "s3cret" and b"via webhook" in body
        await bot.delete_webhook()
        assert (await bot.get_webhook_info()).url == ""
    finally:
        server.close()


# --------------------------------------------------------------------------- volbot console


class ConsoleSettings(BaseModel):
    bot_token: str | None = None
    bot_api_base_url: str = "https://api.telegram.org/bot"
    bot_api_base_file_url: str | None = None
    webhook_url: str | None = "https://example.org/hook"


def stand_in_app(settings: ConsoleSettings) -> Application:  # type: ignore[type-arg]
    """A tiny Application with the same wiring as bot.app.build_application."""
    assert settings.bot_token and settings.webhook_url is None
    app = (
        ApplicationBuilder()
        .token(settings.bot_token)
        .base_url(settings.bot_api_base_url)
        .base_file_url(settings.bot_api_base_file_url or "")
        .defaults(Defaults(parse_mode=ParseMode.HTML))
        .build()
    )

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_user and update.effective_message
        lang = update.effective_user.language_code
        await update.effective_message.reply_text(
            f"Hello <b>{update.effective_user.first_name}</b> &amp; welcome ({lang})",
            reply_markup=keyboard("Going", "Not going"),
        )

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.data
        await query.answer("Saved")
        await query.edit_message_text(f"You chose {query.data.split(':')[1]}")

    async def doc(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat
        await context.bot.send_document(update.effective_chat.id, b"BEGIN:VCALENDAR", filename="event.ics")

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message and update.effective_message.text
        await update.effective_message.reply_text("echo: " + html.escape(update.effective_message.text))

    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("doc", doc))
    app.add_handler(CallbackQueryHandler(pressed))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    return app


async def test_console_private_chat() -> None:
    stdin = io.StringIO("/start\n2\nhello <there>\n/doc\n:quit\nnever read\n")
    stdout = io.StringIO()
    code = await run_console(
        ConsoleSettings(),
        user_id=42,
        first_name="Amina",
        lang="ar",
        group=None,
        stdin=stdin,
        stdout=stdout,
        app_factory=stand_in_app,
    )
    out = stdout.getvalue()
    assert code == 0
    assert "Hello Amina & welcome (ar)\n[1] Going  [2] Not going" in out
    assert "💬 Saved" in out
    assert "✏️ (edited message 2)\nYou chose Not going" in out
    assert "echo: hello <there>" in out
    assert "📎 event.ics (15 bytes)" in out
    assert "never read" not in out


async def test_console_group_eof() -> None:
    stdout = io.StringIO()
    await run_console(
        ConsoleSettings(),
        user_id=7,
        first_name="Kidane",
        lang="ti",
        group="Board",
        stdin=io.StringIO("/start@volbot_test_bot\n:dm hi there\n1\n"),
        stdout=stdout,
        app_factory=stand_in_app,
    )
    out = stdout.getvalue()
    assert f"group “Board” ({group_chat_id('Board')})" in out
    assert "Hello Kidane & welcome (ti)" in out
    assert "[private]\necho: hi there" in out
    assert "You chose Going" in out
    assert group_chat_id("Board") == group_chat_id("Board") < -1_000_000_000_000

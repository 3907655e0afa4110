"""The printable invitation (/invite): the QR code decodes (OpenCV) to the network's follow link, and the
Arabic and Tigrinya lines are drawn in their own script, shaped and ordered.

How the script is checked: each line is shaped with HarfBuzz (uharfbuzz) in the font the page used —
no glyph is .notdef (the font covers every letter), Arabic comes out right-to-left with joined
(contextual) letter forms, not the isolated ones — and the glyph run HarfBuzz produced, drawn from the
font's own outlines, must look like what is on the page in that line's box (a page with isolated or
reversed Arabic letters does not)."""

from __future__ import annotations

import io
import re

import cv2
import numpy as np
import pytest
import uharfbuzz as hb
from fontTools.ttLib import TTFont
from PIL import Image, ImageChops, ImageDraw, ImageFont
from sqlalchemy import select

from bot.db import models as m
from bot.render import invitation as inv
from bot.render.invitation import Line, follow_link, invitation_pdf, invitation_png, render_page
from bot.testing.harness import BotHarness

NAME = "Integrationsnetværket i Rudersdal"
LINK = follow_link("volbot_test_bot", "integrationsnetvaerket-i-rudersdal")
MARKS = "\u200e\u200f\u2066\u2067\u2068\u2069"


def decode_qr(image: Image.Image) -> str:
    pixels = cv2.cvtColor(np.array(image.convert("RGB")), cv2.COLOR_RGB2BGR)
    text, points, _ = cv2.QRCodeDetector().detectAndDecode(pixels)
    assert points is not None, "no QR code found"
    return str(text)


def shape(line: Line, text: str | None = None) -> tuple[list[int], list[tuple[int, int]], hb.Font, str]:
    blob = hb.Blob.from_file_path(str(line.font))
    font = hb.Font(hb.Face(blob))
    buf = hb.Buffer()
    buf.add_str(line.text if text is None else text)
    buf.guess_segment_properties()
    hb.shape(font, buf)
    gids = [i.codepoint for i in buf.glyph_infos]
    pos = [(p.x_advance, p.x_offset) for p in buf.glyph_positions]
    return gids, pos, font, buf.direction


def visual_runs(line: Line) -> list[str]:
    """The line's runs in visual order: in an Arabic line, text inside isolates (the network's name) is
    its own left-to-right run, placed by the bidi rules for isolates (runs reversed in an RTL line)."""
    parts = [p for p in re.split("[\u2066-\u2069]", line.text.strip(MARKS)) if p]
    return list(reversed(parts)) if line.rtl else parts


def isolated_latin_only(line: Line) -> bool:
    """Latin letters only inside isolates (so the runs above are the whole bidi story)."""
    outside = re.sub("\u2068[^\u2069]*\u2069", "", line.text)
    return not re.search("[A-Za-z]", outside) or not line.rtl


class _Outline:
    """A pen (the protocol uharfbuzz draws with) that flattens a glyph into closed polygons."""

    def __init__(self, scale: float, dx: float, baseline: float) -> None:
        self.scale, self.dx, self.baseline = scale, dx, baseline
        self.polygons: list[list[tuple[float, float]]] = []
        self._at = (0.0, 0.0)

    def _pt(self, p: tuple[float, float]) -> tuple[float, float]:
        return (self.dx + p[0] * self.scale, self.baseline - p[1] * self.scale)

    def moveTo(self, p: tuple[float, float]) -> None:
        self.polygons.append([self._pt(p)])
        self._at = p

    def lineTo(self, p: tuple[float, float]) -> None:
        self.polygons[-1].append(self._pt(p))
        self._at = p

    def qCurveTo(self, c: tuple[float, float], p: tuple[float, float]) -> None:
        a = self._at
        for i in range(1, 9):
            t = i / 8
            self.lineTo_raw(
                ((1 - t) ** 2 * a[0] + 2 * (1 - t) * t * c[0] + t * t * p[0],
                 (1 - t) ** 2 * a[1] + 2 * (1 - t) * t * c[1] + t * t * p[1])
            )  # fmt: skip
        self._at = p

    def curveTo(self, c1: tuple[float, float], c2: tuple[float, float], p: tuple[float, float]) -> None:
        a = self._at
        for i in range(1, 11):
            t = i / 10
            u = 1 - t
            self.lineTo_raw(
                (u**3 * a[0] + 3 * u * u * t * c1[0] + 3 * u * t * t * c2[0] + t**3 * p[0],
                 u**3 * a[1] + 3 * u * u * t * c1[1] + 3 * u * t * t * c2[1] + t**3 * p[1])
            )  # fmt: skip
        self._at = p

    def lineTo_raw(self, p: tuple[float, float]) -> None:
        self.polygons[-1].append(self._pt(p))

    def closePath(self) -> None:
        pass


def draw_run(line: Line) -> Image.Image:
    """The HarfBuzz glyph run of a line, drawn from the font's outlines (even-odd fill), black on white."""
    runs = [shape(line, part) for part in visual_runs(line)]
    gids = [g for run in runs for g in run[0]]
    pos = [p for run in runs for p in run[1]]
    font = runs[0][2]
    upem = font.face.upem
    scale = line.size / upem
    width = int(sum(a for a, _ in pos) * scale) + 2 * line.size
    height = 3 * line.size
    ink = Image.new("1", (width, height), 0)
    x = float(line.size)
    for gid, (advance, offset) in zip(gids, pos, strict=True):
        pen = _Outline(scale, x + offset * scale, 2 * line.size)
        font.draw_glyph_with_pen(gid, pen)
        for polygon in pen.polygons:
            if len(polygon) >= 3:
                mask = Image.new("1", (width, height), 0)
                ImageDraw.Draw(mask).polygon(polygon, fill=1)
                ink = ImageChops.logical_xor(ink, mask)
        x += advance * scale
    return ImageChops.invert(ink.convert("L"))


def ink_crop(image: Image.Image) -> np.ndarray:
    """Dark pixels, cropped to their bounding box."""
    dark = np.array(image.convert("L")) < 128
    ys, xs = np.nonzero(dark)
    assert len(xs), "nothing drawn"
    return dark[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def _dilate(mask: np.ndarray, r: int) -> np.ndarray:
    out = mask.copy()
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            out |= np.roll(np.roll(mask, dy, axis=0), dx, axis=1)
    return out


def likeness(a: np.ndarray, b: np.ndarray) -> float:
    """How much of each ink mask lies within 2 px of the other's ink (the smaller of the two shares), both
    aligned at the top left of their ink: 1.0 is the same drawing up to anti-aliasing."""
    h, w = max(a.shape[0], b.shape[0]) + 4, max(a.shape[1], b.shape[1]) + 4
    pa = np.zeros((h, w), bool)
    pb = np.zeros((h, w), bool)
    pa[: a.shape[0], : a.shape[1]] = a
    pb[: b.shape[0], : b.shape[1]] = b
    near_b, near_a = _dilate(pb, 2), _dilate(pa, 2)
    return float(min((pa & near_b).sum() / max(1, pa.sum()), (pb & near_a).sum() / max(1, pb.sum())))


def on_page(page: Image.Image, line: Line) -> np.ndarray:
    x0, y0, x1, y1 = line.box
    return ink_crop(page.crop((x0 - 4, y0 - 4, x1 + 4, y1 + 4)))


@pytest.fixture(scope="module")
def rendered() -> tuple[Image.Image, list[Line]]:
    return render_page(NAME, LINK)


def test_qr_code_decodes_to_the_follow_link(rendered: tuple[Image.Image, list[Line]]) -> None:
    page, _ = rendered
    assert page.size == (1240, 1754)  # A4 at 150 dpi
    assert decode_qr(page) == "https://t.me/volbot_test_bot?start=net_integrationsnetvaerket-i-rudersdal"
    # The PNG as sent decodes too (and so does a page scaled down the way a phone camera sees it).
    png = Image.open(io.BytesIO(invitation_png(NAME, LINK)))
    assert decode_qr(png) == LINK
    assert decode_qr(png.resize((620, 877))) == LINK


def test_pdf_is_one_a4_page() -> None:
    pdf = invitation_pdf(NAME, LINK)
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") >= 1
    assert pdf.count(b"/Type /Pages") == 1 and b"/Count 1" in pdf
    # 1240 x 1754 px at 150 dpi is A4 (595 x 842 pt).
    assert b"/MediaBox [0 0 595.2 841.92]" in pdf or b"/MediaBox [ 0 0 595.2 841.92 ]" in pdf


def test_lines_in_every_language_translated(rendered: tuple[Image.Image, list[Line]]) -> None:
    _, lines = rendered
    text = {lang: " ".join(line.text for line in lines if line.lang == lang) for lang in ("da", "ar", "ti")}
    assert "Følg Integrationsnetværket i Rudersdal på Telegram" in text["da"]
    assert "Scan koden med telefonens kamera" in text["da"] and "Vælg dit sprog" in text["da"]
    assert "تابع" in text["ar"] and "امسح الرمز بكاميرا هاتفك" in text["ar"] and "اختر لغتك" in text["ar"]
    assert "ስዓቡ" in text["ti"] and "ቋንቋኹም ምረጹ" in text["ti"]
    assert all(line.rtl == (line.lang == "ar") for line in lines)
    # Arabic lines are right-aligned at the margin, the others left-aligned.
    for line in lines:
        if line.lang == "ar":
            assert abs(line.box[2] - (1240 - inv.MARGIN)) <= 3, line
        elif line.lang in ("da", "ti"):
            assert abs(line.box[0] - inv.MARGIN) <= 3, line


def test_arabic_and_tigrinya_shaped_in_their_script(rendered: tuple[Image.Image, list[Line]]) -> None:
    page, lines = rendered
    arabic = [line for line in lines if line.lang == "ar"]
    tigrinya = [line for line in lines if line.lang == "ti"]
    assert len(arabic) >= 4 and len(tigrinya) >= 4
    for line in arabic:
        gids, _, _, direction = shape(line)
        assert direction == "rtl", line.text
        assert 0 not in gids, line.text  # every letter has a glyph in Noto Sans Arabic
        # Joined letters: HarfBuzz picks contextual forms, so the glyphs are not the nominal (isolated)
        # glyph of each character.
        cmap = TTFont(line.font).getBestCmap()
        glyph_order = TTFont(line.font).getGlyphOrder()
        nominal = {glyph_order.index(cmap[ord(ch)]) for ch in line.text if "\u0621" <= ch <= "\u064a"}
        assert len(set(gids) - nominal) >= 3, line.text
    for line in tigrinya:
        gids, _, _, direction = shape(line)
        assert direction == "ltr" and 0 not in gids, line.text
        ethiopic = [ch for ch in line.text if "\u1200" <= ch <= "\u137f"]
        assert len(ethiopic) >= 5, line.text
        cmap = TTFont(line.font).getBestCmap()
        assert all(ord(ch) in cmap for ch in ethiopic), line.text
    # What is on the page looks like the HarfBuzz run drawn from the font's outlines.
    compared = [line for line in arabic + tigrinya if isolated_latin_only(line)]
    assert len([line for line in compared if line.rtl]) >= 3
    for line in compared:
        score = likeness(on_page(page, line), ink_crop(draw_run(line)))
        assert score >= 0.9, (line.text, score)


def test_unshaped_arabic_would_be_caught(rendered: tuple[Image.Image, list[Line]]) -> None:
    """The likeness check tells shaped from unshaped: the same line drawn letter by letter, isolated
    and left to right (what a renderer without shaping or bidi does), does not pass."""
    page, lines = rendered
    line = next(line for line in lines if line.lang == "ar" and "امسح" in line.text)
    font = ImageFont.truetype(str(line.font), line.size, layout_engine=ImageFont.Layout.BASIC)
    text = line.text.strip(MARKS)
    wrong = Image.new("L", (2 * (line.box[2] - line.box[0]) + 200, 3 * line.size), 255)
    ImageDraw.Draw(wrong).text((10, 10), text, font=font, fill=0)
    right = likeness(on_page(page, line), ink_crop(draw_run(line)))
    unshaped = likeness(on_page(page, line), ink_crop(wrong))
    assert right >= 0.9 and unshaped < 0.7, (right, unshaped)


async def test_invite_in_group_and_privately(bot: BotHarness) -> None:
    mette = bot.user(1, "Mette", "da")
    lars = bot.user(2, "Lars", "da")
    outsider = bot.user(3, "Eve", "en")
    group = bot.group("Rudersdal Netværk", admins=[mette])
    await bot.say(mette, "/setup", group)
    await bot.say(lars, "hej", group)
    sent = [c for c in await bot.say(mette, "/invite", group) if c.method == "sendDocument"]
    assert len(sent) == 1 and sent[0].chat_id == group.id
    doc = sent[0].params["document"]
    assert doc.filename == "invitation-rudersdal-netvaerk.pdf" and doc.content.startswith(b"%PDF")
    assert "https://t.me/volbot_test_bot?start=net_rudersdal-netvaerk" in str(sent[0].params.get("caption"))
    # A member who is not a coordinator, and an outsider privately, are refused with nothing sent.
    for user, chat in ((lars, group), (outsider, None), (lars, None)):
        calls = await bot.say(user, "/invite", chat)
        assert not [c for c in calls if c.method == "sendDocument"], user
        assert any(
            "koordinator" in (c.plain_text or "") or "coordinator" in (c.plain_text or "") for c in calls
        )
    # Privately, a coordinator gets the invitation of the network they coordinate.
    private = [c for c in await bot.say(mette, "/invite") if c.method == "sendDocument"]
    assert len(private) == 1 and private[0].chat_id == mette.id
    # A forged button naming the network, pressed by the outsider privately or a member in the group.
    async with bot.services.sessionmaker() as s:
        network_id = await s.scalar(select(m.Network.id))
    for user, chat_id in ((outsider, outsider.id), (lars, group.id)):
        message_id = bot.api.sent_messages(chat_id)[-1].message_id or 0
        pressed = await bot.press(user, chat_id, message_id, f"invite:{network_id}:", data=True)
        assert not [c for c in pressed if c.method == "sendDocument"], user
    refused = await bot.say(mette, "/invite some-other-network")
    assert not [c for c in refused if c.method == "sendDocument"]
    assert "some-other-network" in (refused[-1].plain_text or "")


def test_a_long_name_still_fits_on_the_page() -> None:
    long_name = "Integrationsnetværket for Rudersdal, Lyngby-Taarbæk, Furesø og Allerød Kommuner"
    page, lines = render_page(long_name, LINK)
    assert all(
        x0 >= 0 and x1 <= 1240 and y0 >= 0 and y1 <= 1754 for x0, y0, x1, y1 in (ln.box for ln in lines)
    )
    assert " ".join(ln.text for ln in lines if ln.lang == "name") == long_name  # wrapped, not cut
    assert decode_qr(page) == LINK


def test_without_raqm_arabic_is_shaped_by_hand(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Pillow without Raqm (no FriBiDi on the machine): arabic-reshaper and python-bidi shape and order
    the Arabic lines, and the page still looks like HarfBuzz's runs (basic layout kerns a little
    differently, hence the lower bar)."""
    from PIL import features

    check = features.check
    monkeypatch.setattr(inv.features, "check", lambda name: False if name == "raqm" else check(name))
    inv._font.cache_clear()
    try:
        page, lines = render_page(NAME, LINK)
    finally:
        monkeypatch.undo()
        inv._font.cache_clear()
    compared = [line for line in lines if line.lang in ("ar", "ti") and isolated_latin_only(line)]
    assert len([line for line in compared if line.rtl]) >= 3
    for line in compared:
        score = likeness(on_page(page, line), ink_crop(draw_run(line)))
        assert score >= 0.85, (line.text, score)
    assert decode_qr(page) == LINK


async def test_invite_privately_for_one_of_several_networks(bot: BotHarness) -> None:
    mette = bot.user(1, "Mette", "en")
    first = bot.group("Rudersdal Network", admins=[mette])
    second = bot.group("Lyngby Network", admins=[mette])
    await bot.say(mette, "/setup", first)
    await bot.say(mette, "/setup", second)
    asked = await bot.say(mette, "/invite")
    assert not [c for c in asked if c.method == "sendDocument"]
    question = asked[-1]
    assert question.plain_text == "Which network is the invitation for?"
    assert [b["text"] for b in question.buttons()] == ["Lyngby Network", "Rudersdal Network"]
    pressed = await bot.press(mette, mette.id, question.message_id or 0, "Lyngby Network")
    sent = [c for c in pressed if c.method == "sendDocument"]
    assert len(sent) == 1 and sent[0].params["document"].filename == "invitation-lyngby-network.pdf"
    named = [c for c in await bot.say(mette, "/invite rudersdal-network") if c.method == "sendDocument"]
    assert named[0].params["document"].filename == "invitation-rudersdal-network.pdf"

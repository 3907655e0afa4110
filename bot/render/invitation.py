"""The printable invitation (/invite): one A4 page with the network's name, its follow link as a QR code
and three steps in Danish, Arabic and Tigrinya on how to follow. Pure: text in, PNG/PDF bytes out.

Arabic is shaped and laid out right-to-left by Pillow's Raqm layout (HarfBuzz + FriBiDi, shipped in
Pillow's wheels); without Raqm, `arabic-reshaper` + `python-bidi` do the shaping and ordering. Fonts:
Noto Sans Arabic (PyPI package `fontpkg-noto-sans-arabic`) for Arabic and Abyssinica SIL (vendored in
bot/assets/fonts, OFL) for Ge'ez and Latin.
"""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import qrcode
from PIL import Image, ImageDraw, ImageFont, features
from qrcode.constants import ERROR_CORRECT_M

from bot.i18n import N_, get_translator

# A4 at 150 dpi.
DPI = 150
PAGE = (1240, 1754)
MARGIN = 90
LANGUAGES = ("da", "ar", "ti")

TITLE = N_("Follow {network} on Telegram")
STEPS = (
    N_("1. Scan the code with your phone's camera."),
    N_("2. Press Start in Telegram."),
    N_("3. Choose your language."),
)

_ARABIC = re.compile("[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")
_ETHIOPIC = re.compile("[\u1200-\u139f\u2d80-\u2ddf\uab00-\uab2f]")
# Direction marks and isolates the translator puts around placeholders: FriBiDi reads them, but the
# fallback path (and fonts without glyphs for them) must not draw them.
_MARKS = dict.fromkeys(map(ord, "\u200e\u200f\u2066\u2067\u2068\u2069\u202a\u202b\u202c\u202d\u202e"))


def follow_link(bot_username: str, slug: str) -> str:
    return f"https://t.me/{bot_username}?start=net_{slug}"


@cache
def arabic_font_path() -> Path:
    files = resources.files("fontpkg_noto_sans_arabic") / "files"
    for entry in files.iterdir():
        if entry.name.endswith(".ttf"):
            return Path(str(entry))
    raise FileNotFoundError("Noto Sans Arabic is missing from fontpkg_noto_sans_arabic")


@cache
def ethiopic_font_path() -> Path:
    return Path(str(resources.files("bot.assets") / "fonts" / "AbyssinicaSIL-Regular.ttf"))


def font_path_for(text: str) -> Path:
    """The font that has the glyphs of this text's script (Latin is in both)."""
    if _ARABIC.search(text):
        return arabic_font_path()
    return ethiopic_font_path()


@cache
def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    layout = ImageFont.Layout.RAQM if features.check("raqm") else ImageFont.Layout.BASIC
    return ImageFont.truetype(str(path), size, layout_engine=layout)


@dataclass(frozen=True)
class Line:
    """One line of the page: its text as written (logical order), language and where it was drawn."""

    text: str
    lang: str
    font: Path
    size: int
    box: tuple[int, int, int, int]
    rtl: bool


def invitation_lines(network_name: str) -> dict[str, list[str]]:
    """The title and three steps per language, translated."""
    out: dict[str, list[str]] = {}
    for lang in LANGUAGES:
        t = get_translator(lang)
        out[lang] = [t.plain(TITLE, network=network_name)] + [t.plain(step) for step in STEPS]
    return out


def _visual(text: str, rtl: bool) -> tuple[str, dict[str, str]]:
    """Text and keyword arguments for ImageDraw.text: Raqm shapes and orders by itself; the fallback
    shapes with arabic-reshaper and orders with python-bidi, and Pillow draws it as it is."""
    if features.check("raqm"):
        return text, ({"direction": "rtl", "language": "ar"} if rtl else {})
    plain = text.translate(_MARKS)
    if not rtl and not _ARABIC.search(plain):
        return plain, {}
    import arabic_reshaper
    from bidi import get_display

    return str(get_display(arabic_reshaper.reshape(plain), base_dir="R" if rtl else "L")), {}


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    words = text.split(" ")
    lines: list[str] = []
    current = ""
    for word in words:
        trial = f"{current} {word}".strip()
        if current and draw.textlength(_visual(trial, False)[0], font=font) > width:
            lines.append(current)
            current = word
        else:
            current = trial
    if current:
        lines.append(current)
    return lines


def _qr(link: str, size: int) -> Image.Image:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=4, box_size=10)
    code.add_data(link)
    code.make(fit=True)
    img = code.make_image(fill_color="black", back_color="white").get_image().convert("RGB")
    return img.resize((size, size), Image.Resampling.NEAREST)


def render_page(network_name: str, link: str) -> tuple[Image.Image, list[Line]]:
    """The page as an image, and every text line with the box it was drawn in (for tests). A long name
    or long translations make everything a little smaller until the page holds it all."""
    for scale in (1.0, 0.9, 0.8, 0.7, 0.6):
        page, drawn, bottom = _layout(network_name, link, scale)
        if bottom <= PAGE[1] - MARGIN // 2:
            break
    return page, drawn


def _layout(network_name: str, link: str, scale: float) -> tuple[Image.Image, list[Line], int]:
    page = Image.new("RGB", PAGE, "white")
    draw = ImageDraw.Draw(page)
    width = PAGE[0] - 2 * MARGIN
    drawn: list[Line] = []

    def put(text: str, lang: str, size: int, y: int, *, rtl: bool = False, center: bool = False) -> int:
        path = (
            font_path_for(text)
            if lang not in ("ar", "ti")
            else (arabic_font_path() if lang == "ar" else ethiopic_font_path())
        )
        font = _font(path, size)
        for part in _wrap(draw, text, font, width):
            visual, kwargs = _visual(part, rtl)
            if center:
                x, anchor = PAGE[0] // 2, "ma"
            elif rtl:
                x, anchor = PAGE[0] - MARGIN, "ra"
            else:
                x, anchor = MARGIN, "la"
            draw.text((x, y), visual, font=font, fill="black", anchor=anchor, **kwargs)  # type: ignore[arg-type]
            box = draw.textbbox((x, y), visual, font=font, anchor=anchor, **kwargs)  # type: ignore[arg-type]
            drawn.append(Line(part, lang, path, size, tuple(int(v) for v in box), rtl))  # type: ignore[arg-type]
            y += int(size * 1.45)
        return y

    def px(size: float) -> int:
        return int(size * scale)

    y = MARGIN - 20
    name = unicodedata.normalize("NFC", network_name)
    y = put(name, "name", px(64), y, center=True) + 10
    qr_size = px(620)
    page.paste(_qr(link, qr_size), ((PAGE[0] - qr_size) // 2, y))
    y += qr_size + 6
    y = put(link, "link", 26, y, center=True) + px(30)
    texts = invitation_lines(name)
    for lang in LANGUAGES:
        draw.line((MARGIN, y, PAGE[0] - MARGIN, y), fill="#999999", width=2)
        y += 18
        rtl = lang == "ar"
        title, *steps = texts[lang]
        y = put(title, lang, px(46), y, rtl=rtl)
        for step in steps:
            y = put(step, lang, px(38), y, rtl=rtl)
        y += 12
    return page, drawn, y


def invitation_png(network_name: str, link: str) -> bytes:
    image, _ = render_page(network_name, link)
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(DPI, DPI), optimize=True)
    return out.getvalue()


def invitation_pdf(network_name: str, link: str) -> bytes:
    """One A4 page (the image at 150 dpi)."""
    image, _ = render_page(network_name, link)
    out = io.BytesIO()
    image.save(out, format="PDF", resolution=DPI, title=network_name)
    return out.getvalue()

"""Build hook: compile the translation catalogues into the wheel.

The catalogues live at the top level (`locales/<lang>/LC_MESSAGES/messages.po`, where translators and
Weblate find them). `build_py` compiles each one with Babel and writes the `.mo` file into the built
package as `bot/locales/<lang>/LC_MESSAGES/messages.mo`, so a wheel or an ordinary `pip install .`
speaks every language from any folder. An editable install skips this step: `bot/i18n.py` then reads
the checkout's `locales/` and compiles in memory.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
DOMAIN = "messages"


class build_py_with_catalogues(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        for po_path in sorted((ROOT / "locales").glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
            lang = po_path.parent.parent.name
            target = Path(self.build_lib) / "bot" / "locales" / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"
            target.parent.mkdir(parents=True, exist_ok=True)
            with po_path.open("rb") as f:
                catalog = read_po(f, locale=lang, domain=DOMAIN)
            with target.open("wb") as out:
                write_mo(out, catalog, use_fuzzy=False)
            self.announce(f"compiled {po_path.relative_to(ROOT)} -> {target}", level=2)


setup(cmdclass={"build_py": build_py_with_catalogues})

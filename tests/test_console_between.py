"""`volbot console --group`: an agenda item with a file (`:file`, `:reply`, a file during the
/additem dialogue), a to-do for yourself, /todos and its Done button."""

from __future__ import annotations

import io

from bot.config import Settings
from bot.console import run_console

SCRIPT = """:added
/setup
/newmeeting 2027-06-20 17:00 | Frivilligcentret
:file slides-sprogcafe.pdf
:reply /additem Sprogcafé i foråret | Forslag fra Jamila
/additem
:file budget-2027.xlsx
Budget 2027
-
/agenda
/todo mig | Ring til kommunen om lokalet
/todos
1
"""


async def test_console_item_with_file_and_todo(db_url: str) -> None:
    settings = Settings(_env_file=None, database_url=db_url)  # type: ignore[call-arg]
    stdout = io.StringIO()
    code = await run_console(
        settings,
        user_id=4242,
        first_name="Mette",
        lang="da",
        group="Frivillignetværket",
        stdin=io.StringIO(SCRIPT),
        stdout=stdout,
    )
    out = stdout.getvalue()
    assert code == 0
    agenda = out.split("Dagsorden for Frivillignetværket", 1)[1]
    assert (
        "Sprogcafé i foråret — fremlægges af Mette\n    Forslag fra Jamila\n    📎 slides-sprogcafe.pdf"
        in agenda
    )
    assert "Budget 2027 — fremlægges af Mette\n    📎 budget-2027.xlsx" in agenda
    assert "Et handlingspunkt til dig — Frivillignetværket" in out  # told privately
    todos = out.split("Åbne handlingspunkter", 1)[1]
    assert "1. Ring til kommunen om lokalet — Mette" in todos and "[1] ✓ Udført 1" in todos
    assert "💬 Udført." in todos and "Ingen åbne handlingspunkter" in todos

"""Errors the user caused. They carry an untranslated message; the handler layer translates it."""

from __future__ import annotations

from typing import Any


class UserError(Exception):
    """Bad input or a refused action: the session is rolled back and the message is shown."""

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message)
        self.message = message
        self.params = params


class NotAllowed(UserError):
    pass


class NotFound(UserError):
    pass

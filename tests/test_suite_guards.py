"""The suite's own guards: without PostgreSQL a developer's run skips (loudly), CI fails."""

from __future__ import annotations

import pytest
from conftest import require_postgresql


def test_missing_postgresql_fails_in_ci_and_skips_outside() -> None:
    require_postgresql(True, in_ci=True)  # reachable: nothing to say
    with pytest.raises(pytest.fail.Exception, match="CI=true but PostgreSQL"):
        require_postgresql(False, in_ci=True)
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL not reachable"):
        require_postgresql(False, in_ci=False)

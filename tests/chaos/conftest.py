"""The crash suite's marker: ``pytest -m chaos`` selects it, ``-m "not chaos"`` leaves it out; by default it runs."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "chaos: the crash suite (workers SIGKILLed mid-flow, every effect counted)")

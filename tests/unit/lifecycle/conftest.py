"""Fixtures of the lifecycle tests: provider doubles in place of the real providers, and a
planned Vagrant (virtualbox) stack."""

from __future__ import annotations

import pytest

from blackfish import providers
from tests.support.provider_double import ProviderDouble
from tests.support.vagrant import planned, write_nodes


@pytest.fixture
def fleet(monkeypatch) -> dict[str, ProviderDouble]:
    """providers.get(name) answers with one double per name, kept here for the test to inspect."""
    made: dict[str, ProviderDouble] = {}

    def get(name):
        return made.setdefault(name, ProviderDouble(name))

    monkeypatch.setattr(providers, "get", get)
    return made


@pytest.fixture
def stack(tmp_path):
    return planned(write_nodes(tmp_path))  # provider: virtualbox

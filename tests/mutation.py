"""A pytest plugin for the mutation run only (`pytest_add_cli_args` in pyproject's [tool.mutmut]).

mutmut runs, for each mutant, the tests that reached its function while it recorded which test reaches what. A
function behind `functools.cache` is reached by the first test that calls it and by no later one, so the tests that
check what it computes (the input schemas, which `input_schema` caches) would never meet its mutants. Each test
starts with empty caches instead.
"""

from __future__ import annotations

import sys

import pytest

PACKAGES = ("server", "tools")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    for name, module in list(sys.modules.items()):
        if name.partition(".")[0] in PACKAGES:
            for value in list(vars(module).values()):
                if callable(clear := getattr(value, "cache_clear", None)):
                    clear()

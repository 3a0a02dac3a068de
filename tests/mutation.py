"""A pytest plugin for the mutation run only (`pytest_add_cli_args` in pyproject's [tool.mutmut]).

mutmut runs, for each mutant, the tests that reached its function while it recorded which test reaches what, and
it names them to pytest by their ids. Two things would make that silently wrong, so this plugin prevents them:

- A function behind `functools.cache` is reached by the first test that calls it and by no later one, so the tests
  that check what it computes (the input schemas, which `input_schema` caches) would never meet its mutants. Each
  test starts with empty caches instead.
- pytest escapes a non-ASCII or control character in a test id, and cannot find the test by the escaped id again:
  every mutant such a test covers would end in a usage error that mutmut counts as killed. Such ids stop the run.
"""

from __future__ import annotations

import sys

import pytest

PACKAGES = ("server", "tools")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    escaped = [item.nodeid for item in items if "\\" in item.nodeid or not item.nodeid.isascii()]
    if escaped:
        raise pytest.UsageError(f"test ids mutmut cannot pass back to pytest (use printable ASCII ids): {escaped}")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    for name, module in list(sys.modules.items()):
        if name.partition(".")[0] in PACKAGES:
            for value in list(vars(module).values()):
                if callable(clear := getattr(value, "cache_clear", None)):
                    clear()

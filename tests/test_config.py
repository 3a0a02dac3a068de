"""Configuration from the environment: hosts, keys and defaults, and the problems a call will report."""

from __future__ import annotations

import pytest

from server.config import Settings
from tools import SCOPES

KEY = "phx_secret_canary_0123456789"


def settings(**env: str) -> Settings:
    return Settings.from_env({"POSTHOG_PERSONAL_API_KEY": KEY, **env})


@pytest.mark.parametrize(
    ("raw", "host"),
    [
        ("", "https://us.posthog.com"),
        ("us", "https://us.posthog.com"),
        ("EU", "https://eu.posthog.com"),
        ("https://posthog.example.com/", "https://posthog.example.com"),
        ("posthog.example.com", "https://posthog.example.com"),
        ("http://localhost:8000", "http://localhost:8000"),
        ("http://127.0.0.1:8010", "http://127.0.0.1:8010"),
        ("http://127.4.5.6", "http://127.4.5.6"),
        ("http://[::1]:8000", "http://[::1]:8000"),
    ],
)
def test_host_shorthands_urls_and_loopback_http_are_accepted(raw: str, host: str) -> None:
    configured = settings(POSTHOG_HOST=raw)
    assert configured.host == host
    assert configured.problems == ()


@pytest.mark.parametrize(
    ("raw", "host"),
    [("us.i.posthog.com", "https://us.posthog.com"), ("https://eu.i.posthog.com", "https://eu.posthog.com")],
)
def test_capture_host_is_mapped_to_its_app_host_with_a_notice(raw: str, host: str) -> None:
    configured = settings(POSTHOG_HOST=raw)
    assert configured.host == host
    assert configured.problems == ()
    assert len(configured.notices) == 1
    assert "capture" in configured.notices[0]
    assert host in configured.notices[0]


@pytest.mark.parametrize("raw", ["http://posthog.example.com", "http://10.0.0.5:8000", "http://localhost.example.com"])
def test_plain_http_to_a_remote_host_is_a_problem_that_names_https(raw: str) -> None:
    (problem,) = settings(POSTHOG_HOST=raw).problems
    assert "https://" in problem
    assert "clear text" in problem


def test_missing_key_names_the_variable_the_key_page_and_the_scopes() -> None:
    (problem,) = Settings.from_env({"POSTHOG_HOST": "eu"}).problems
    assert "POSTHOG_PERSONAL_API_KEY" in problem
    assert "https://eu.posthog.com/settings/user-api-keys" in problem
    for scope in SCOPES:
        assert scope in problem


def test_the_short_variable_name_is_an_alias_for_the_key() -> None:
    configured = Settings.from_env({"POSTHOG_API_KEY": KEY})
    assert configured.problems == ()
    assert configured.api_key is not None
    assert configured.api_key.get_secret_value() == KEY


@pytest.mark.parametrize(("token", "words"), [("phc_abc123", "project token"), ("phs_abc123", "project secret key")])
def test_project_tokens_are_refused_as_keys(token: str, words: str) -> None:
    configured = Settings.from_env({"POSTHOG_PERSONAL_API_KEY": token})
    (problem,) = configured.problems
    assert words in problem
    assert "phx_" in problem
    assert token not in problem
    assert configured.api_key is None


def test_the_key_does_not_show_in_the_settings_repr() -> None:
    configured = settings()
    assert KEY not in repr(configured)
    assert KEY not in str(configured)


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"POSTHOG_PROJECT_ID": "abc"}, "POSTHOG_PROJECT_ID"),
        ({"POSTHOG_PROJECT_ID": "0"}, "POSTHOG_PROJECT_ID"),
        ({"POSTHOG_ORGANIZATION_ID": "not-a-uuid"}, "POSTHOG_ORGANIZATION_ID"),
        ({"POSTHOG_MCP_TIMEOUT": "soon"}, "POSTHOG_MCP_TIMEOUT"),
        ({"POSTHOG_MCP_TIMEOUT": "-1"}, "POSTHOG_MCP_TIMEOUT"),
        ({"POSTHOG_HOST": "ftp://posthog.example.com"}, "POSTHOG_HOST"),
    ],
)
def test_malformed_values_are_problems_naming_the_variable(env: dict[str, str], words: str) -> None:
    (problem,) = settings(**env).problems
    assert words in problem


def test_defaults_are_read_and_normalised() -> None:
    configured = settings(
        POSTHOG_PROJECT_ID=" 42 ",
        POSTHOG_ORGANIZATION_ID="0189C2A4-8E5B-7C3D-9F00-1234567890AB",
        POSTHOG_MCP_TIMEOUT="2.5",
    )
    assert (configured.project_id, configured.organization_id, configured.timeout) == (
        "42",
        "0189c2a4-8e5b-7c3d-9f00-1234567890ab",
        2.5,
    )

"""Secrets in results are recognised by the words of their key, never by raw substrings."""

from __future__ import annotations

import pytest

from server.redact import REDACTED, is_secret, redact

SECRET_KEYS = [
    "access_token",
    "refresh_token",
    "api_key",
    "client_secret",
    "password",
    "private_key",
    "auth_token",
    "connection_string",
    "signing_key",
    "project_access_token",
    "apiKey",
    "accessToken",
    "ConnectionString",
    "webhook-secret",
    "token",
    "id_token",
    "secret_key",
    "db_password",
    "credentials",
]
READABLE_KEYS = [
    "key_id",
    "account_sid",
    "author",
    "oauth_provider",
    "token_type",
    "public_key",
    "private_key_id",
    "installation_id",
    "display_name",
    "expires_in",
    "authed_user",
    "workspace_label",
]


@pytest.mark.parametrize("key", SECRET_KEYS)
def test_secret_keys_are_recognised_by_their_words(key: str) -> None:
    assert is_secret(key)


@pytest.mark.parametrize("key", READABLE_KEYS)
def test_readable_keys_that_merely_contain_secret_letters_stay(key: str) -> None:
    assert not is_secret(key)


def test_redaction_reaches_nested_objects_and_lists_and_keeps_empty_values() -> None:
    config = {
        "oauth": {"refresh_token": "r-1", "oauth_provider": "google"},
        "accounts": [{"name": "a", "api_key": "k-1"}, [{"password": "p-1"}]],
        "client_secret": "",
        "private_key": None,
        "key_id": "kid-1",
    }
    assert redact({"id": 1, "config": config}) == {
        "id": 1,
        "config": {
            "oauth": {"refresh_token": REDACTED, "oauth_provider": "google"},
            "accounts": [{"name": "a", "api_key": REDACTED}, [{"password": REDACTED}]],
            "client_secret": "",
            "private_key": None,
            "key_id": "kid-1",
        },
    }


def test_a_secret_holding_an_object_is_redacted_whole() -> None:
    assert redact({"credentials": {"user": "u", "pass": "p"}}) == {"credentials": REDACTED}

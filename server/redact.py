"""Secrets out of results: old integration rows can still hold credentials in `config`, and any text may quote a URL.

`clean` is the one way PostHog's JSON reaches a model: invisible characters are stripped first, so one inside a name,
a URL or a JSON string cannot hide a secret from the rules below, and then secrets are replaced by "[redacted]".

A name is matched as one run of lower-case letters and digits (`api_key`, `apiKey`, `api-key` and `APIKEY` are all
`apikey`), with a trailing format (`_pem`, `_json`, `_base64`), a plural `s` and a trailing number set aside:
- Secret: a name that ends with a noun that holds a secret (`password`, `secret`, `token`, `credential`, `cookie`,
  `authorization`, `dsn`, ...), with a key whose qualifier says it is secret (`api_key`, `private_key`,
  `secret_access_key`, ...), or with a locator that carries credentials (`connection_string`, `database_url`,
  `webhook_url`, a `service_account`'s key file); or a name that is only `key`, `auth` or `pass`.
- Readable: everything else. A name that describes a secret ends with another word (`credential_id`, `secret_arn`,
  `client_secret_expires_at`, `password_set`, `token_type`) or starts with the word `has` (`has_password`), so it
  stays. A key is not secret by itself: `public_key`, `primary_key`, `sort_key`, `partition_key`, `idempotency_key`,
  `key_id` and Linear's `url_key` are readable. Matching is by whole endings, never by substrings, so `author`,
  `oauth`, `oauth_provider`, `auth_method`, `authed_user`, `tokenizer`, `secretary`, `keyboard`, `monkey` and
  `bypass` stay readable. (`HASPASSWORD` in capitals is one word and counts as secret; its boolean stays anyway.)

Under a secret name only non-empty strings are replaced, at any depth: `{}`, `[]`, `""`, booleans, numbers and null
stay, so a model still sees that a secret is set or empty. Under any other name, a URL's password is replaced
(`postgres://admin:[redacted]@db`), and a string that parses as a JSON object is cleaned inside and re-serialized
(replaced whole when it is nested too deep to look inside).
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from server.sanitize import strip_invisible

REDACTED = "[redacted]"
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_WHOLE_NAMES = ("key", "auth", "pass")
_ENDINGS = (
    *("password", "passwd", "passphrase", "secret", "token", "credential", "cookie", "authorization", "dsn"),
    *("apikey", "privatekey", "secretkey", "signingkey", "accesskey", "encryptionkey", "licensekey", "masterkey"),
    *("basicauth", "connectionstring", "databaseurl", "dburl", "webhookurl", "serviceaccount"),
)
_FORMATS = ("pem", "json", "base64")
_SECRET_NAME = re.compile(
    f"(?:^(?:{'|'.join(_WHOLE_NAMES)})|(?:{'|'.join(_ENDINGS)}))s?(?:{'|'.join(_FORMATS)})?[0-9]*$"
)
_DESCRIBING_FIRST_WORDS = frozenset({"has"})
_JSON_WHITESPACE = " \t\n\r"
"""What JSON allows before a value (RFC 8259), and all that `json.loads` skips."""
_URL_PASSWORD = re.compile(r"(://[^\s/?#:]*:)[^\s/?#]+(?=@)")
"""scheme://user:password@host, found by its `://` whatever the scheme: the user runs to the first colon (Azure's
`admin@server` included), the password to the last @ before the path or a space."""


def clean(value: Any) -> Any:
    """PostHog's JSON as a model may read it: a copy stripped of invisible characters, then with secrets replaced."""
    return _redacted(strip_invisible(value))


def _is_secret(name: str) -> bool:
    words = [word.lower() for word in _WORDS.findall(name)]
    if not words or words[0] in _DESCRIBING_FIRST_WORDS:
        return False
    return _SECRET_NAME.search("".join(words)) is not None


_is_secret_name = functools.lru_cache(maxsize=4096)(_is_secret)
"""`_is_secret`, remembered per process: a page repeats the same few names in every row. (Wrapped here rather than
decorated, because mutmut leaves decorated functions alone.)"""


def _redacted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _hidden(item) if _is_secret_name(key) else _redacted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_redacted(item) for item in value]
    if isinstance(value, str):
        return _redacted_text(value)
    return value


def _hidden(value: Any) -> Any:
    """Every non-empty string replaced; the shape and every other value kept."""
    if isinstance(value, dict):
        return {key: _hidden(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_hidden(item) for item in value]
    return REDACTED if isinstance(value, str) and value else value


def _redacted_text(text: str) -> str:
    """JSON in a string is cleaned like any other; JSON nested too deep to look inside is replaced whole.

    Only text that opens with a bracket is parsed, and only text with a `://` is searched for a URL: most strings
    are neither, and parses that failed took most of the time that cleaning a page took."""
    if text.lstrip(_JSON_WHITESPACE).startswith(("{", "[")):
        try:
            parsed = json.loads(text)
            if isinstance(parsed, dict):
                return json.dumps(clean(parsed), ensure_ascii=False, separators=(",", ":"))
        except RecursionError:
            return REDACTED
        except ValueError:
            pass
    return _URL_PASSWORD.sub(r"\1" + REDACTED, text) if "://" in text else text

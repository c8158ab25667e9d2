"""A request Railway rejects is echoed back in its error, secrets and all: the client blanks the
values the request carried where secrets live before any message reaches the operator
(components/railway/echoes.py)."""

from __future__ import annotations

import json

import pytest

from components.errors import RailwayRequestInvalid
from components.railway.echoes import BLANKED, without_secrets
from components.railway.providers.service import ServiceProvider

from .test_providers import configured
from .test_providers import world as world  # the fixture

SECRET = "s3cr3t-session-key"


def test_a_rejected_create_does_not_echo_the_secrets_it_carried(emulator, world):
    client = configured(ServiceProvider, emulator).client()
    create_input = {"projectId": world["project_id"], "name": "x", "variables": {"SESSION_SECRET": SECRET}, "bogus": 1}

    with pytest.raises(RailwayRequestInvalid) as raised:
        client.execute("serviceCreate", {"input": create_input})

    message = str(raised.value)
    assert SECRET not in message and BLANKED in message
    assert "bogus" in message and "serviceCreate" in message, "what was wrong is still said"
    assert world["project_id"] in message, "values that are not secrets stay"


@pytest.mark.parametrize(
    ("sent", "secret"),
    [
        ({"input": {"variables": {"A": "ab"}}}, "ab"),  # short: blanked where quoted
        ({"input": {"variables": {"A": 'it\'s "quoted"'}}}, 'it\'s "quoted"'),  # echoed with escapes
        ({"input": {"credentials": {"password": "hunter2hunter2"}}}, "hunter2hunter2"),
        ({"v": {"API_TOKEN": "tok-123456"}}, "tok-123456"),
        ({"i": {"variables": {"NESTED": "outer-secret-value"}}}, "outer-secret-value"),
    ],
)
def test_every_secret_spelling_is_blanked(sent, secret):
    echoed = f"Variable '$input' got invalid value {sent!r}; as JSON {json.dumps(sent)}"
    cleaned = without_secrets(echoed, sent)
    assert repr(secret) not in cleaned and json.dumps(secret) not in cleaned, cleaned
    if len(secret) >= 4:  # a short one may be part of other words ("ab" of "variables")
        assert secret not in cleaned.replace(BLANKED, ""), cleaned


def test_names_and_short_unquoted_text_are_left_alone():
    sent = {"input": {"name": "backend", "variables": {"REPLICAS": "1", "LOG_LEVEL": "info"}}}
    message = "Service backend: line 1, column 12: expected 1 value; found {'REPLICAS': '1', 'LOG_LEVEL': 'info'}"
    cleaned = without_secrets(message, sent)
    assert cleaned.startswith("Service backend: line 1, column 12: expected 1 value")
    assert "'info'" not in cleaned and "info" not in cleaned and "'1'" not in cleaned

"""The role table: documented as it is, and refused at start-up when a hosted method is missing."""

from pathlib import Path

import pytest

from meters.security import role_doc
from meters.security.roles import HUMAN_ROLES, METHOD_ROLES, missing_methods
from meters.server import Registration, check_role_table

DOC = Path(__file__).resolve().parents[1] / "docs" / "security.md"


def test_docs_hold_the_current_role_table():
    text = DOC.read_text()
    start, end = text.index(role_doc.BEGIN), text.index(role_doc.END) + len(role_doc.END)
    assert text[start:end] == role_doc.markdown(), "run: python -m meters.security.role_doc and paste it"


def test_every_method_has_a_role_and_no_human_role_is_everywhere():
    assert all(METHOD_ROLES.values())
    for role in HUMAN_ROLES:
        assert any(role not in roles for roles in METHOD_ROLES.values()), role


def test_a_server_with_an_unlisted_method_does_not_start(monkeypatch):
    from meters.alert.v1 import alert_service_pb2  # noqa: F401 - registers the descriptor

    name = "meters.alert.v1.AlertService"
    check_role_table([Registration(lambda *_: None, object(), name)])
    monkeypatch.delitem(METHOD_ROLES, f"/{name}/AcknowledgeAlert")
    assert missing_methods([f"/{name}/AcknowledgeAlert", "/grpc.health.v1.Health/Check"]) == \
        [f"/{name}/AcknowledgeAlert"]
    with pytest.raises(RuntimeError, match="AcknowledgeAlert"):
        check_role_table([Registration(lambda *_: None, object(), name)])

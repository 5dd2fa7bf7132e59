"""Every API route tried as nobody and as each role (admin, therapist, parent, researcher).

Expectations live in POLICY, keyed by operation id; a route without an entry fails the
test, so new routes must state who may call them. Child-scoped routes are also tried
against the other child (not on the therapist's caseload / not the parent's child):
404, never the data.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from h5_api_support import PASSWORD, T0, Api, make_api
from security_support import Req, make_alert, valid_bodies

from movereg.dashboard.openapi import walk_routes
from movereg.storage import Child

_n = itertools.count()

ROLES = ("admin", "therapist", "parent", "researcher")
ALL = frozenset(ROLES)
ADMIN = frozenset({"admin"})
CLIN = frozenset({"admin", "therapist"})
CARE = frozenset({"admin", "therapist", "parent"})
PUBLIC = "public"

#: operation id -> (roles allowed | PUBLIC, child-scoped?)
POLICY: dict[str, tuple[frozenset[str] | str, bool]] = {
    "health": (PUBLIC, False), "login": (PUBLIC, False), "login_form": (PUBLIC, False),
    "logout": (ALL, False), "me": (ALL, False), "create_token": (ALL, False),
    "change_password": (ALL, False),
    "list_users": (ADMIN, False), "create_user": (ADMIN, False),
    "update_user": (ADMIN, False), "list_user_children": (ADMIN, False),
    "link_user_child": (ADMIN, False), "unlink_user_child": (ADMIN, False),
    "list_children": (CARE, False), "create_child": (CLIN, False),
    "get_child": (CARE, True),
    "consent_history": (CARE, True), "record_consent": (CLIN, True),
    "withdraw_consent": (CLIN, True),
    "list_bands": (CLIN, False), "scan_bands": (CLIN, False),
    "connect_band": (CLIN, True), "disconnect_band": (CLIN, False),
    "assign_band": (CLIN, True), "unassign_band": (CLIN, False),
    "start_session": (CARE, True), "stop_session": (CARE, True),
    "list_sessions": (CARE, True), "get_session": (CARE, True),
    "create_event": (CARE, True), "list_events": (CARE, True), "get_event": (CARE, True),
    "correct_event": (CARE, True), "event_history": (CARE, True),
    "end_event": (CARE, True), "void_event": (CARE, True),
    "get_epochs": (CARE, True), "get_breaks": (CARE, True), "get_gaps": (CARE, True), "get_summary": (CARE, True),
    "data_dictionary": (ALL, False), "export_data": (ALL, True),
    "list_strategies": (ALL, False), "put_strategy": (CLIN, False),
    "set_strategy_active": (CLIN, False),
    "list_audit": (ADMIN, False), "verify_audit": (ADMIN, False),
    "child_access_log": (frozenset({"admin", "parent"}), True),
    # families at home (issue 19): bundle and erasure by the guardian or an admin
    "child_bundle": (frozenset({"admin", "parent"}), True),
    "delete_child": (frozenset({"admin", "parent"}), True),
    "child_settings": (CARE, True), "set_child_settings": (CARE, True),
    "home_plan": (CARE, True), "add_plan_item": (CLIN, True), "retire_plan_item": (CLIN, True),
    "add_checkin": (CARE, True), "list_checkins": (CARE, True), "day_pdf": (CARE, True),
    # the clinic day (issue 15)
    "setup_state": (PUBLIC, False), "setup_admin": ("token", False),
    "start_group_session": (CLIN, True), "get_group_session": (CLIN, True),
    "stop_group_session": (CLIN, True), "session_note_draft": (CLIN, True),
    "get_favourites": (CLIN, True), "set_favourites": (CLIN, True),
    "set_user_role": (ADMIN, False), "reset_user_password": (ADMIN, False),
    "band_motion": (CLIN, False),
    "add_import": (CARE, True), "get_import": (CARE, True), "list_imports": (CARE, True),
    "remove_import": (CARE, True), "list_source_spans": (CARE, True),
    "list_alerts": (CARE, False), "ack_alert": (CARE, True),
    "get_strategy_links": (CARE, True),
    # bands that record on their own (issue 23): the clinicians' bands page
    "get_band_recorder": (CLIN, False), "refresh_band_recorder": (CLIN, False),
    "start_band_recording": (CLIN, False), "stop_band_recording": (CLIN, False),
    "sync_band": (CLIN, False), "get_band_sync": (CLIN, False), "set_band_range": (CLIN, False),
    # home relays (issue 23): tokens are the admin's; the relay's own routes take only a
    # relay token, so every user (and nobody) gets 401
    "create_relay_token": (ADMIN, False), "list_relay_tokens": (ADMIN, False),
    "revoke_relay_token": (ADMIN, False),
    "relay_bands": ("relay", False), "relay_upload": ("relay", False),
}

ISO0 = datetime.fromtimestamp(T0 / 1e9, tz=UTC).isoformat()
ISO1 = datetime.fromtimestamp(T0 / 1e9 + 600, tz=UTC).isoformat()


def _api_routes(api: Api) -> list[APIRoute]:
    return [r for r in walk_routes(api.client.app.routes)  # type: ignore[attr-defined]
            if True
            and r.endpoint.__module__.startswith("movereg.dashboard.routes.")
            and not r.endpoint.__module__.endswith(".live")]


def build(api: Api, op: str, route: APIRoute, child: Child) -> Req:
    """A valid request for ``op`` about ``child`` (fresh objects where needed)."""
    s = api.store
    method = sorted(route.methods)[0]
    ev = s.create_event(child.id, "mov.break") if "{event_id}" in route.path else None
    sess = s.start_session(child.id) if "{session_id}" in route.path else None
    dev = "dev-a" if child.id == api.child_a.id else "dev-b"
    if op == "disconnect_band":
        api.hub.connected[dev] = {}
    if op == "withdraw_consent":
        s.record_consent(child.id, consented=True, recorded_by="test")
    if op == "delete_child":  # a fresh child with the same carers, so the rest stays
        target = s.create_child(display_name="Erin")
        for uid in [u.id for u in s.list_users() if child.id in s.linked_children(u.id)]:
            s.link_user_child(uid, target.id)
        child = target
    if op == "add_checkin":
        s.set_child_settings(child.id, by="test", checkins_enabled=True)
    if op == "start_band_recording":   # unassign_band ran before: record for the child
        s.assign_device(dev, child.id)
    alert_id = make_alert(api.hub, child.id) if op == "ack_alert" else 0
    plan = (s.add_plan_item(child.id, "mov.break", by="test").id
            if "{plan_id}" in route.path else 0)
    imp = s.begin_import(child.id, file_name="x.cwa", size_bytes=1,
                         sha256=f"{next(_n):064x}", imported_by="test") \
        if "{import_id}" in route.path else None
    relay = s.create_relay_token("home", [child.id], actor="test")[1].id \
        if "{relay_id}" in route.path else 0
    if op == "relay_upload":
        return Req(method, route.path, files={"file": ("a.csv", b"x", "text/csv")},
                   data={"band": dev, "started": ISO0})
    path = route.path.format(child_id=child.id, plan_id=plan, event_id=ev.id if ev else 0,
                             import_id=imp.id if imp else 0,
                             session_id=sess.id if sess else 0, username="pat",
                             device_id=dev, key="mov.break", what="epochs",
                             alert_id=alert_id, relay_id=relay)
    bodies = valid_bodies(child.id, login_as="pat")
    bodies["create_relay_token"] = {"name": "home", "child_ids": [child.id]}
    params: dict[str, Any] = {
        "list_sessions": {"child_id": child.id},
        "list_events": {"child_id": child.id},
        "get_epochs": {"from": ISO0, "to": ISO1, "features": "enmo_mg"},
        "get_breaks": {"from": ISO0, "to": ISO1},
        "get_gaps": {"from": ISO0, "to": ISO1},
        "export_data": {"child": child.code},
        "scan_bands": {"timeout_s": 1},
        "list_source_spans": {"from": ISO0, "to": ISO1},
    }.get(op, {})
    if op == "add_import":
        return Req(method, path, files={"file": ("a.cwa", b"not a recording", "text/plain")})
    if op == "login_form":
        return Req(method, path, data={"username": "pat", "password": PASSWORD})
    return Req(method, path, params=params, json=bodies.get(op))


def send(api: Api, req: Req, role: str | None) -> int:
    headers = {}
    if role is not None:  # a fresh token per request, so logout cannot spoil the next one
        user = api.store.find_user(api.role_user[role])
        assert user is not None
        headers["Authorization"] = f"Bearer {api.store.create_token(user.id, 'bearer', 600)[0]}"
    api.client.cookies.clear()  # public login routes set cookies; keep callers separate
    r = api.client.request(req.method, req.url, params=req.params, json=req.json,
                           data=req.data, files=req.files, headers=headers,
                           follow_redirects=False)
    assert r.status_code < 500, (req, role, r.status_code, r.text)
    return r.status_code


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    yield from make_api(tmp_path, monkeypatch)


def test_every_route_has_a_policy(api: Api) -> None:
    ops = {r.operation_id for r in _api_routes(api)}
    assert None not in ops
    assert ops == set(POLICY), f"missing: {ops - set(POLICY)}, stale: {set(POLICY) - ops}"


@pytest.mark.parametrize("role", [None, *ROLES])
def test_route_matrix(api: Api, role: str | None) -> None:
    """Own child: allowed roles succeed, others 403, nobody 401. Other child: 404."""
    # the caller's own password change and logout go last: they end the caller's sign-in
    # and change the password later operations (the erasure) confirm with
    last = ("change_password", "logout")
    routes = sorted(_api_routes(api), key=lambda r: last.index(r.operation_id) + 1
                    if r.operation_id in last else 0)
    for route in routes:
        op = route.operation_id
        assert op is not None
        allowed, scoped = POLICY[op]
        status = send(api, build(api, op, route, api.child_a), role)
        if allowed == PUBLIC:
            assert status in (200, 303), (op, role, status)
        elif allowed == "token" or allowed == "relay":   # the one-time setup token, whoever asks
            assert status == 401, (op, role, status)
        elif role is None:
            assert status == 401, (op, status)
        elif role in allowed:
            assert 200 <= status < 300, (op, role, status)
        else:
            assert status == 403, (op, role, status)
        if scoped and role in ("therapist", "parent") and isinstance(allowed, frozenset) \
                and role in allowed:
            other = send(api, build(api, op, route, api.child_b), role)
            assert other == 404, (op, role, other)


def test_every_child_read_is_audited(api: Api) -> None:
    before = api.store.list_audit(limit=1)[0].id if api.store.list_audit(limit=1) else 0
    for route in _api_routes(api):
        op = route.operation_id
        assert op is not None
        _, scoped = POLICY[op]
        if not scoped or route.methods != {"GET"}:
            continue
        send(api, build(api, op, route, api.child_a), "parent" if op != "export_data"
             else "researcher")
    entries = api.store.list_audit(limit=500)
    touched = {e.action for e in entries if e.id > before and (e.child_id == api.child_a.id
                                                               or e.action.startswith("export"))}
    for action in ("read.child", "read.consent", "read.sessions", "read.session", "read.events",
                   "read.event", "read.event_history", "read.epochs", "read.breaks", "read.gaps",
                   "read.summary", "export", "export.done"):
        assert action in touched, action

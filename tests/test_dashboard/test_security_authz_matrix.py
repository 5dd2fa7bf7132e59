"""The authorization matrix of issue #21, generated from the app's own OpenAPI.

Every operation of ``/openapi.json`` (plus the WebSocket ``/api/live``, which OpenAPI
cannot describe) x every role (admin, therapist, parent, researcher, anonymous) x
own child / other child / no child, with the expected status written once in
:data:`TABLE`. An operation without a row fails :func:`test_every_operation_has_a_row`.

Scopes. *own*: child A (on tess's caseload, pat's child; its band dev-a), *other*:
child B (theo's and paula's; band dev-b; research consent withdrawn), *none*: for
child-scoped operations a child / event / session that does not exist (the same answer
as *other* for therapists and parents: no existence leak) and for band operations an
unassigned band (band operations in *other* try to take child B's band for child A);
for global operations the one call. ``-``: scope not applicable. Records a path names
(event, session, plan item, import, alert) are made fresh for the scope's child; an
erasure erases a fresh child linked to the same carers; ``setup_admin`` is sent with the
real one-time token (refused: an administrator exists).
WebSocket cells: ``101`` accepted, ``1008`` refused before the handshake.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from h5_api_support import PASSWORD, T0, Api, make_api
from security_support import Req, enable_live, make_alert, valid_bodies
from starlette.websockets import WebSocketDisconnect

ROLES = ("admin", "therapist", "parent", "researcher", "anonymous")
SCOPES = ("own", "other", "none")
MISSING = 999_999
_n = itertools.count()

# op:                  admin         therapist     parent        researcher    anonymous
#                      own oth none  own oth none  own oth none  own oth none  own oth none
TABLE: dict[str, str] = {
    "health":             "- - 200 | - - 200 | - - 200 | - - 200 | - - 200",
    "login":              "- - 200 | - - 200 | - - 200 | - - 200 | - - 200",
    "login_form":         "- - 303 | - - 303 | - - 303 | - - 303 | - - 303",
    "logout":             "- - 204 | - - 204 | - - 204 | - - 204 | - - 401",
    "me":                 "- - 200 | - - 200 | - - 200 | - - 200 | - - 401",
    "create_token":       "- - 201 | - - 201 | - - 201 | - - 201 | - - 401",
    "change_password":    "- - 204 | - - 204 | - - 204 | - - 204 | - - 401",
    "list_users":         "- - 200 | - - 403 | - - 403 | - - 403 | - - 401",
    "create_user":        "- - 201 | - - 403 | - - 403 | - - 403 | - - 401",
    "update_user":        "- - 200 | - - 403 | - - 403 | - - 403 | - - 401",
    "list_user_children": "- - 200 | - - 403 | - - 403 | - - 403 | - - 401",
    "link_user_child":    "204 204 404 | 403 403 403 | 403 403 403 | 403 403 403 | 401 401 401",
    "unlink_user_child":  "204 204 204 | 403 403 403 | 403 403 403 | 403 403 403 | 401 401 401",
    "list_children":      "- - 200 | - - 200 | - - 200 | - - 403 | - - 401",
    "create_child":       "- - 201 | - - 201 | - - 403 | - - 403 | - - 401",
    "get_child":          "200 200 404 | 200 404 404 | 200 404 404 | 403 403 403 | 401 401 401",
    "consent_history":    "200 200 404 | 200 404 404 | 200 404 404 | 403 403 403 | 401 401 401",
    "record_consent":     "201 201 404 | 201 404 404 | 403 403 403 | 403 403 403 | 401 401 401",
    "withdraw_consent":   "200 200 404 | 200 404 404 | 403 403 403 | 403 403 403 | 401 401 401",
    "list_bands":         "- - 200 | - - 200 | - - 403 | - - 403 | - - 401",
    "scan_bands":         "- - 200 | - - 200 | - - 403 | - - 403 | - - 401",
    "connect_band":       "201 201 201 | 201 404 201 | 403 403 403 | 403 403 403 | 401 401 401",
    "disconnect_band":    "204 204 204 | 204 404 204 | 403 403 403 | 403 403 403 | 401 401 401",
    "assign_band":        "204 204 204 | 204 404 204 | 403 403 403 | 403 403 403 | 401 401 401",
    "unassign_band":      "204 204 204 | 204 404 204 | 403 403 403 | 403 403 403 | 401 401 401",
    "start_session":      "201 201 404 | 201 404 404 | 201 404 404 | 403 403 403 | 401 401 401",
    "list_sessions":      "200 200 404 | 200 404 404 | 200 404 404 | 403 403 403 | 401 401 401",
    "stop_session":       "200 200 404 | 200 404 404 | 200 404 404 | 403 403 403 | 401 401 401",
    "get_session":        "200 200 404 | 200 404 404 | 200 404 404 | 403 403 403 | 401 401 401",
    "create_event":       "201 201 404 | 201 404 404 | 201 404 404 | 403 403 403 | 401 401 401",
    "list_events":        "200 200 404 | 200 404 404 | 200 404 404 | 403 403 403 | 401 401 401",
    "get_event":          "200 200 404 | 200 404 404 | 200 404 404 | 403 403 403 | 401 401 401",
    "correct_event":      "200 200 404 | 200 404 404 | 200 404 404 | 403 403 403 | 401 401 401",
    "event_history":      "200 200 404 | 200 404 404 | 200 404 404 | 403 403 403 | 401 401 401",
    "end_event":          "200 200 404 | 200 404 404 | 200 404 404 | 403 403 403 | 401 401 401",
    "void_event":         "200 200 404 | 200 404 404 | 200 404 404 | 403 403 403 | 401 401 401",
    "get_epochs":         "200 200 404 | 200 404 404 | 200 404 404 | 403 403 403 | 401 401 401",
    "get_gaps":           "200 200 404 | 200 404 404 | 200 404 404 | 403 403 403 | 401 401 401",
    "get_breaks":         "200 200 404 | 200 404 404 | 200 404 404 | 403 403 403 | 401 401 401",
    "get_summary":        "200 200 404 | 200 404 404 | 200 404 404 | 403 403 403 | 401 401 401",
    "data_dictionary":    "- - 200 | - - 200 | - - 200 | - - 200 | - - 401",
    "export_data":        "200 200 404 | 200 404 404 | 200 404 404 | 200 403 404 | 401 401 401",
    "list_strategies":    "- - 200 | - - 200 | - - 200 | - - 200 | - - 401",
    "put_strategy":       "- - 200 | - - 200 | - - 403 | - - 403 | - - 401",
    "set_strategy_active": "- - 200 | - - 200 | - - 403 | - - 403 | - - 401",
    "list_audit":         "- - 200 | - - 403 | - - 403 | - - 403 | - - 401",
    "verify_audit":       "- - 200 | - - 403 | - - 403 | - - 403 | - - 401",
    "child_access_log":   "200 200 404 | 403 403 403 | 200 404 404 | 403 403 403 | 401 401 401",
    "live_sse":           "200 200 404 | 200 403 403 | 200 403 403 | 403 403 403 | 401 401 401",
    "live_ws":            "101 101 1008 | 101 1008 1008 | 101 1008 1008 | 1008 1008 1008 | "
                          "1008 1008 1008",
    # the clinic day (issue 15): group sessions, note drafts and favourites are the
    # therapist's (caseload only); accounts are the admin's; setup is closed once an
    # administrator exists, even with the real one-time token
    "setup_state":        "- - 200 | - - 200 | - - 200 | - - 200 | - - 200",
    "setup_admin":        "- - 401 | - - 401 | - - 401 | - - 401 | - - 401",
    "start_group_session": "201 201 404 | 201 404 404 | 403 403 403 | 403 403 403 | 401 401 401",
    "get_group_session":  "200 200 404 | 200 404 404 | 403 403 403 | 403 403 403 | 401 401 401",
    "stop_group_session": "200 200 404 | 200 404 404 | 403 403 403 | 403 403 403 | 401 401 401",
    "session_note_draft": "200 200 404 | 200 404 404 | 403 403 403 | 403 403 403 | 401 401 401",
    "get_favourites":     "200 200 404 | 200 404 404 | 403 403 403 | 403 403 403 | 401 401 401",
    "set_favourites":     "200 200 404 | 200 404 404 | 403 403 403 | 403 403 403 | 401 401 401",
    "set_user_role":      "- - 200 | - - 403 | - - 403 | - - 403 | - - 401",
    "reset_user_password": "- - 200 | - - 403 | - - 403 | - - 403 | - - 401",
    "band_motion":        "- - 200 | - - 200 | - - 403 | - - 403 | - - 401",
    # families at home (issue 19): bundle and erasure are the guardian's or an admin's
    # (a therapist's own caseload child: 403); the home plan is set by clinicians
    "child_bundle":       "200 200 404 | 403 404 404 | 200 404 404 | 403 403 403 | 401 401 401",
    "delete_child":       "200 200 404 | 403 404 404 | 200 404 404 | 403 403 403 | 401 401 401",
    "child_settings":     "200 200 404 | 200 404 404 | 200 404 404 | 403 403 403 | 401 401 401",
    "set_child_settings": "200 200 404 | 200 404 404 | 200 404 404 | 403 403 403 | 401 401 401",
    "home_plan":          "200 200 404 | 200 404 404 | 200 404 404 | 403 403 403 | 401 401 401",
    "add_plan_item":      "201 201 404 | 201 404 404 | 403 403 403 | 403 403 403 | 401 401 401",
    "retire_plan_item":   "200 200 404 | 200 404 404 | 403 403 403 | 403 403 403 | 401 401 401",
    "add_checkin":        "201 201 404 | 201 404 404 | 201 404 404 | 403 403 403 | 401 401 401",
    "list_checkins":      "200 200 404 | 200 404 404 | 200 404 404 | 403 403 403 | 401 401 401",
    "day_pdf":            "200 200 404 | 200 404 404 | 200 404 404 | 403 403 403 | 401 401 401",
    # imports (issue 22): the child's carers, never a researcher (not even an import id's
    # existence); a new file is accepted for background processing (202)
    "add_import":         "202 202 404 | 202 404 404 | 202 404 404 | 403 403 403 | 401 401 401",
    "get_import":         "200 200 404 | 200 404 404 | 200 404 404 | 403 403 403 | 401 401 401",
    "list_imports":       "200 200 404 | 200 404 404 | 200 404 404 | 403 403 403 | 401 401 401",
    "remove_import":      "200 200 404 | 200 404 404 | 200 404 404 | 403 403 403 | 401 401 401",
    "list_source_spans":  "200 200 404 | 200 404 404 | 200 404 404 | 403 403 403 | 401 401 401",
    # device and data-health alerts (issue 14): carers see and acknowledge the alerts of
    # their children's bands; researchers none
    "list_alerts":        "- - 200 | - - 200 | - - 200 | - - 403 | - - 401",
    "ack_alert":          "200 200 404 | 200 404 404 | 200 404 404 | 403 403 403 | 401 401 401",
    # before/after per strategy (issue 13): a child read, as the day's summary
    "get_strategy_links": "200 200 404 | 200 404 404 | 200 404 404 | 403 403 403 | 401 401 401",
    # bands that record on their own (issue 23): clinicians, on the bands they may see;
    # recording needs the band assigned to a child (the unassigned band: 422)
    "get_band_recorder":  "200 200 200 | 200 404 200 | 403 403 403 | 403 403 403 | 401 401 401",
    "refresh_band_recorder": "200 200 200 | 200 404 200 | 403 403 403 | 403 403 403 | "
                             "401 401 401",
    "start_band_recording": "200 200 422 | 200 404 422 | 403 403 403 | 403 403 403 | "
                            "401 401 401",
    "stop_band_recording": "200 200 200 | 200 404 200 | 403 403 403 | 403 403 403 | "
                           "401 401 401",
    "sync_band":          "202 202 202 | 202 404 202 | 403 403 403 | 403 403 403 | 401 401 401",
    "get_band_sync":      "200 200 200 | 200 404 200 | 403 403 403 | 403 403 403 | 401 401 401",
    "set_band_range":     "204 204 204 | 204 404 204 | 403 403 403 | 403 403 403 | 401 401 401",
    # home relays (issue 23): the admin makes, lists and revokes relay tokens; the relay's
    # own two routes answer 401 to every user (a relay token is its only key); the
    # relay's cells are in RELAY
    "create_relay_token": "- - 201 | - - 403 | - - 403 | - - 403 | - - 401",
    "list_relay_tokens":  "- - 200 | - - 403 | - - 403 | - - 403 | - - 401",
    "revoke_relay_token": "200 200 404 | 403 403 403 | 403 403 403 | 403 403 403 | 401 401 401",
    "relay_bands":        "- - 401 | - - 401 | - - 401 | - - 401 | - - 401",
    "relay_upload":       "401 401 401 | 401 401 401 | 401 401 401 | 401 401 401 | 401 401 401",
}
#: The sixth caller kind (issue 23): a home relay's token, made for child A only. An
#: operation not listed answers 401 in every scope (the token is not a user session; a
#: WebSocket closes with 1008). *own*: a recording of A's band dev-a, *other*: of B's band
#: dev-b, *none*: of the unassigned dev-free.
RELAY_ROLE = "relay"
RELAY: dict[str, str] = {
    "health":       "- - 200",   # no sign-in: the header is not read
    "setup_state":  "- - 200",
    "setup_admin":  "- - 401",
    "login":        "- - 200",
    "login_form":   "- - 303",
    "relay_bands":  "- - 200",
    "relay_upload": "202 403 403",
}
#: Run last: they end the caller's tokens or change the caller's password.
_LAST = ("logout", "change_password")

ISO0 = datetime.fromtimestamp(T0 / 1e9, tz=UTC).isoformat()
ISO1 = datetime.fromtimestamp(T0 / 1e9 + 600, tz=UTC).isoformat()


def expected(op: str, role: str, scope: str) -> str:
    """The table's cell for one operation, role and scope ('-' when not applicable)."""
    groups = [g.split() for g in TABLE[op].split("|")]
    if role == RELAY_ROLE:
        refused = "1008" if op == "live_ws" else "401"
        shape = groups[0]
        cells = RELAY[op].split() if op in RELAY else \
            ["-" if c == "-" else refused for c in shape]
        return cells[SCOPES.index(scope)]
    return groups[ROLES.index(role)][SCOPES.index(scope)]


def _ops(api: Api) -> dict[str, tuple[str, str]]:
    doc = api.client.get("/openapi.json").json()
    out = {op["operationId"]: (method.upper(), path)
           for path, item in doc["paths"].items() for method, op in item.items()}
    out["live_ws"] = ("WS", "/api/live")
    return out


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    for a in make_api(tmp_path, monkeypatch):
        enable_live(a.hub, a.settings)
        a.store.upsert_device("dev-free")          # a band nobody wears
        b_consent = a.store.current_consent(a.child_b.id)
        if b_consent is not None and b_consent.active:
            a.store.withdraw_consent(a.child_b.id, withdrawn_by="test")
        yield a


def build(api: Api, op: str, method: str, path: str, scope: str) -> Req:
    """A valid request for ``op`` in ``scope`` (fresh records where needed)."""
    s = api.store
    kid = {"own": api.child_a.id, "other": api.child_b.id, "none": MISSING}[scope]
    code = {"own": "KID-A", "other": "KID-B", "none": "KID-Z"}[scope]
    dev = {"own": "dev-a", "other": "dev-b", "none": "dev-free"}[scope]
    ev = sess = plan = imp = alert = MISSING
    if "{alert_id}" in path and scope != "none":
        alert = make_alert(api.hub, kid)
    if op == "delete_child" and scope != "none":   # a fresh child with the same carers
        target = s.create_child(display_name="Erin")
        for uid in [u.id for u in s.list_users() if kid in s.linked_children(u.id)]:
            s.link_user_child(uid, target.id)
        kid = target.id
    if "{plan_id}" in path and scope != "none":
        plan = s.add_plan_item(kid, "mov.break", by="test").id
    relay = MISSING
    if "{relay_id}" in path and scope != "none":
        relay = s.create_relay_token("home", [kid], actor="test")[1].id
    if op == "relay_upload":   # a new file each time, recorded while the band was worn
        return Req(method, path, files={"file": ("a.csv", f"not a recording {next(_n)}"
                                                 .encode(), "text/csv")},
                   data={"band": dev, "started": ISO0, "recording_id": f"r{next(_n)}"})
    if "{import_id}" in path and scope != "none":   # pending: removing it cancels it
        imp = s.begin_import(kid, file_name="x.cwa", size_bytes=1,
                             sha256=f"{next(_n):064x}", imported_by="test").id
    if op == "add_checkin" and scope != "none":
        s.set_child_settings(kid, by="test", checkins_enabled=True)
    if "{event_id}" in path and scope != "none":
        ev = s.create_event(kid, "mov.break").id
    if "{session_id}" in path and scope != "none":
        sess = s.start_session(kid).id
    if op == "disconnect_band":
        api.hub.connected[dev] = {}
    if op == "withdraw_consent" and scope != "none":
        s.record_consent(kid, consented=True, recorded_by="test")
    if op == "export_data":   # B's research consent stays withdrawn
        c = s.current_consent(api.child_b.id)
        if c is not None and c.active:
            s.withdraw_consent(api.child_b.id, withdrawn_by="test")
    if op in ("assign_band", "unassign_band", "start_band_recording") and scope != "none":
        s.assign_device(dev, kid)
    url = path.format(child_id=kid, plan_id=plan, import_id=imp, relay_id=relay, alert_id=alert, event_id=ev, session_id=sess, username="paula",
                      device_id=dev, key="mov.break", what="epochs")
    bodies = valid_bodies(kid, login_as="ada")
    # the takeover attempts: the other child's band, for the caller's own child
    bodies["connect_band"] = {"target": "sim"} if scope == "none" else \
        {"target": dev, "child_id": api.child_a.id}
    bodies["assign_band"] = {"child_id": api.child_a.id}
    if op == "setup_admin":   # the real one-time token: still refused once an admin exists
        bodies["setup_admin"]["token"] = s.new_setup_token()
    params: dict[str, Any] = {
        "list_sessions": {"child_id": kid}, "list_events": {"child_id": kid},
        "get_epochs": {"from": ISO0, "to": ISO1, "features": "enmo_mg"},
        "get_breaks": {"from": ISO0, "to": ISO1}, "get_gaps": {"from": ISO0, "to": ISO1},
        "export_data": {"child": code}, "scan_bands": {"timeout_s": 1},
        "live_sse": {"child_id": kid}, "live_ws": {"child_id": kid},
        "list_source_spans": {"from": ISO0, "to": ISO1},
    }.get(op, {})
    if op == "add_import":   # a new file each time (the same file again answers 200)
        return Req(method, url, files={"file": ("a.cwa", f"not a recording {next(_n)}"
                                                .encode(), "text/plain")})
    bodies["create_relay_token"] = {"name": "home", "child_ids": [api.child_a.id]}
    if op == "login_form":
        return Req(method, url, data={"username": "ada", "password": PASSWORD})
    return Req(method, url, params=params, json=bodies.get(op))


def _headers(api: Api, role: str) -> dict[str, str]:
    if role == "anonymous":
        return {}
    if role == RELAY_ROLE:   # a fresh token for child A: a revoke cannot spoil the next
        token = api.store.create_relay_token("home", [api.child_a.id], actor="test")[0]
        return {"Authorization": f"Bearer {token}"}
    user = api.store.find_user(api.role_user[role])
    assert user is not None     # a fresh token per request: logout cannot spoil the next
    return {"Authorization": f"Bearer {api.store.create_token(user.id, 'bearer', 600)[0]}"}


def send(api: Api, req: Req, role: str) -> str:
    """The answer's status (WebSocket: '101' accepted, else the close code)."""
    headers = _headers(api, role)
    api.client.cookies.clear()
    if req.method == "WS":
        url = req.url + "?" + "&".join(f"{k}={v}" for k, v in (req.params or {}).items())
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with api.client.websocket_connect(url, headers=headers) as ws:
                    assert ws.receive_json()["type"] == "hello"
            return "101"
        except WebSocketDisconnect as exc:
            return str(exc.code)
    r = api.client.request(req.method, req.url, params=req.params, json=req.json,
                           data=req.data, files=req.files, headers=headers,
                           follow_redirects=False)
    assert r.status_code < 500, (req, role, r.status_code, r.text)
    return str(r.status_code)


def test_every_operation_has_a_row(api: Api) -> None:
    ops = set(_ops(api))
    assert ops == set(TABLE), f"missing rows: {ops - set(TABLE)}, stale: {set(TABLE) - ops}"
    for op in TABLE:
        cells = [expected(op, r, s) for r in ROLES for s in SCOPES]
        assert len(cells) == 15 and all(c == "-" or c.isdigit() for c in cells), op


def matrix_size() -> int:
    """Cells of the matrix that are exercised (not '-')."""
    return sum(expected(op, r, s) != "-" for op in TABLE for r in ROLES for s in SCOPES)


@pytest.mark.parametrize("role", (*ROLES, RELAY_ROLE))
def test_authorization_matrix(api: Api, role: str) -> None:
    ops = _ops(api)
    order = sorted(ops, key=lambda o: (o in _LAST, _LAST.index(o) if o in _LAST else 0))
    wrong: list[tuple[str, str, str, str]] = []
    ran = 0
    for op in order:
        method, path = ops[op]
        for scope in SCOPES:
            want = expected(op, role, scope)
            if want == "-":
                continue
            got = send(api, build(api, op, method, path, scope), role)
            ran += 1
            if got != want:
                wrong.append((op, scope, want, got))
    assert not wrong, f"{role}: (op, scope, expected, got) {wrong}"
    assert ran == sum(expected(o, role, s) != "-" for o in TABLE for s in SCOPES)


def test_matrix_size_is_reported() -> None:
    # every operation; global ones have one scope, child-scoped ones three
    assert matrix_size() == sum(
        5 * (1 if TABLE[op].split("|")[0].split()[0] == "-" else 3) for op in TABLE)



def test_mixed_group_stays_within_the_caseload(api: Api) -> None:
    """A group the admin started for A (tess's) and B (not tess's): tess sees, drafts and
    stops only A's part; B's session stays open and is never in her answers."""
    c = api.client
    h = {r: _headers(api, r) for r in ("admin", "therapist")}
    r = c.post("/api/sessions/group", json={"child_ids": [api.child_b.id, api.child_a.id]},
               headers=h["admin"])
    assert r.status_code == 201, r.text
    gid = r.json()["group_id"]
    sid = {s["child_id"]: s["id"] for s in r.json()["sessions"]}
    a_sess, b_sess = sid[api.child_a.id], sid[api.child_b.id]
    assert gid == b_sess          # the group is named after B's session

    def kids(resp: Any) -> set[int]:
        return {s["child_id"] for s in resp.json()["sessions"]}

    got = c.get(f"/api/sessions/{a_sess}/group", headers=_headers(api, "therapist"))
    assert got.status_code == 200 and kids(got) == {api.child_a.id}
    note = c.get(f"/api/sessions/{a_sess}/note", headers=_headers(api, "therapist"))
    assert note.status_code == 200 and "Sky" not in note.text and "KID-B" not in note.text
    assert c.get(f"/api/sessions/{b_sess}", headers=_headers(api, "therapist")).status_code \
        == 404
    stop = c.post(f"/api/sessions/{a_sess}/stop_group", headers=_headers(api, "therapist"))
    assert stop.status_code == 200 and kids(stop) == {api.child_a.id}
    assert api.store.get_session(a_sess).ended_at is not None
    assert api.store.get_session(b_sess).ended_at is None     # not tess's to stop
    stop = c.post(f"/api/sessions/{gid}/stop_group", headers=_headers(api, "admin"))
    assert stop.status_code == 200 and kids(stop) == {api.child_a.id, api.child_b.id}
    assert api.store.get_session(b_sess).ended_at is not None
    # tess cannot start a group that includes B: 404, and nothing starts for A either
    before = len(api.store.list_sessions(child_id=api.child_a.id))
    r = c.post("/api/sessions/group", json={"child_ids": [api.child_a.id, api.child_b.id]},
               headers=_headers(api, "therapist"))
    assert r.status_code == 404
    assert len(api.store.list_sessions(child_id=api.child_a.id)) == before


def test_another_childs_plan_item_is_not_found(api: Api) -> None:
    """Retiring B's plan item through A's path (tess's child) answers as a missing item:
    404, not a hint that the id exists, and B's plan is untouched."""
    item = api.store.add_plan_item(api.child_b.id, "mov.break", by="test")
    for role in ("therapist", "admin"):
        r = api.client.delete(f"/api/children/{api.child_a.id}/plan/{item.id}",
                              headers=_headers(api, role))
        assert r.status_code == 404, (role, r.status_code, r.text)
        missing = api.client.delete(f"/api/children/{api.child_a.id}/plan/{MISSING}",
                                    headers=_headers(api, role))
        assert missing.status_code == 404 and missing.json()["detail"].replace(
            str(MISSING), str(item.id)) == r.json()["detail"], (missing.text, r.text)
    assert api.store.get_plan_item(item.id).retired_at is None


def test_alert_lists_stay_within_each_callers_children(api: Api) -> None:
    """tess and pat see A's alerts and the storage alert, never B's; the admin sees all;
    B's alert cannot be acknowledged by tess (404, as a missing one)."""
    a, b = make_alert(api.hub, api.child_a.id), make_alert(api.hub, api.child_b.id)
    disk = make_alert(api.hub, None)
    seen = {}
    for who in ("ada", "tess", "pat", "paula"):
        r = api.client.get("/api/alerts", headers=api.h(who))
        assert r.status_code == 200, r.text
        seen[who] = {x["id"] for x in r.json()}
    assert seen == {"ada": {a, b, disk}, "tess": {a, disk}, "pat": {a, disk},
                    "paula": {b, disk}}
    r = api.client.post(f"/api/alerts/{b}/ack", headers=api.h("tess"))
    assert r.status_code == 404 and api.hub.alerts.get(b).acked_by is None  # type: ignore[attr-defined]


def test_every_expected_status_is_documented(api: Api) -> None:
    """Each status the matrix expects of an operation is in its OpenAPI responses (what
    the schemathesis runs check against)."""
    doc = api.client.get("/openapi.json").json()
    documented = {op["operationId"]: set(op["responses"])
                  for item in doc["paths"].values() for op in item.values()}
    missing = {(op, cell) for op in TABLE if op != "live_ws"
               for cell in (expected(op, r, s) for r in (*ROLES, *(
                   (RELAY_ROLE,) if op in RELAY and op.startswith("relay") else ()))
                            for s in SCOPES)
               if cell != "-" and cell not in documented[op]}
    assert not missing, sorted(missing)

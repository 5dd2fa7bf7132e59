"""The clinic day through the real app: first-run setup, admin changes, group sessions,
the live group view's tiles, the review page and the note draft."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from h5_api_support import PASSWORD, T0, Api, epoch_table, make_api

from movereg.errors import ValidationError
from movereg.storage import IngestBatch


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    yield from make_api(tmp_path, monkeypatch)


def _fresh_setup(api: Api) -> str:
    """Disable every admin so the first-run page opens, and issue a token."""
    for u in api.store.list_users():
        if u.role == "admin":
            api.store.set_user_disabled(u.id, True, allow_last_admin=True)
    assert api.store.setup_pending()
    return api.store.new_setup_token()


def test_setup_token_works_once(api: Api) -> None:
    token = _fresh_setup(api)
    r = api.client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/setup"
    page = api.client.get(f"/setup?token={token}")
    assert page.status_code == 200 and "Create administrator" in page.text
    assert "Open the setup link" in api.client.get("/setup").text
    bad = api.client.post("/api/setup", json={"token": "x" * 20, "username": "boss",
                                              "password": PASSWORD})
    assert bad.status_code == 401
    weak = api.client.post("/api/setup", json={"token": token, "username": "boss",
                                               "password": "short"})
    assert weak.status_code == 422                    # a weak password does not spend it
    ok = api.client.post("/api/setup", json={"token": token, "username": "boss",
                                             "password": PASSWORD})
    assert ok.status_code == 201 and ok.json()["role"] == "admin"
    again = api.client.post("/api/setup", json={"token": token, "username": "boss2",
                                                "password": PASSWORD})
    assert again.status_code == 401
    assert api.store.find_user("boss2") is None
    assert not api.store.setup_pending()
    assert api.client.get("/setup", follow_redirects=False).headers["location"] == "/login"
    assert any(e.action == "setup.admin" for e in api.store.list_audit(limit=20))


def test_setup_form_signs_the_admin_in(api: Api) -> None:
    token = _fresh_setup(api)
    r = api.client.post("/setup", data={"token": token, "username": "boss", "password": PASSWORD,
                                        "password2": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/admin")
    page = api.client.get(r.headers["location"])
    assert page.status_code == 200 and "Setup is complete" in page.text
    r = api.client.post("/setup", data={"token": token, "username": "b2", "password": PASSWORD,
                                        "password2": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/setup?")
    assert api.store.find_user("b2") is None


def test_role_change_and_password_reset_end_sessions(api: Api) -> None:
    api.login("tess")
    assert api.client.get("/api/auth/me").status_code == 200
    r = api.client.post("/api/admin/users/tess/password", json={"password": "a new passphrase!"},
                        headers=api.h("admin"))
    assert r.status_code == 200
    api.client.headers.pop("X-CSRF-Token", None)
    assert api.client.get("/api/auth/me").status_code == 401      # signed out at once
    r = api.client.post("/api/admin/users/theo/role", json={"role": "parent"},
                        headers=api.h("admin"))
    assert r.json()["role"] == "parent"
    assert api.client.get("/api/auth/me", headers=api.h("theo")).status_code == 401
    assert api.client.post("/api/admin/users/pat/role", json={"role": "admin"},
                           headers=api.h("tess")).status_code in (401, 403)
    # deactivating (the admin page's button) ends the user's sessions at once
    assert api.client.get("/api/auth/me", headers=api.h("pat")).status_code == 200
    r = api.client.patch("/api/users/pat", json={"disabled": True}, headers=api.h("admin"))
    assert r.status_code == 200 and r.json()["disabled"]
    assert api.client.get("/api/auth/me", headers=api.h("pat")).status_code == 401
    assert any(e.action == "user.role" for e in api.store.list_audit(limit=20))
    assert any(e.action == "user.password_reset" for e in api.store.list_audit(limit=20))


def test_favourites_keep_the_order_set(api: Api) -> None:
    cid = api.child_a.id
    keys = ["ves.bounce", "mov.break", "pro.wall_push"]
    r = api.client.put(f"/api/children/{cid}/favourites", json={"keys": keys},
                       headers=api.h("tess"))
    assert [f["key"] for f in r.json()] == keys
    for _ in range(3):  # using a strategy a lot never reorders the pins
        api.client.post("/api/events", json={"child_id": cid, "strategy": "pro.wall_push"},
                        headers=api.h("tess"))
    got = api.client.get(f"/api/children/{cid}/favourites", headers=api.h("tess")).json()
    assert [f["key"] for f in got] == keys
    assert api.client.put(f"/api/children/{cid}/favourites", json={"keys": ["nope.x"]},
                          headers=api.h("tess")).status_code == 404
    assert api.client.get(f"/api/children/{api.child_b.id}/favourites",
                          headers=api.h("tess")).status_code == 404


def test_group_session_start_stop_and_bands(api: Api) -> None:
    ids = [api.child_a.id, api.child_b.id]
    r = api.client.post("/api/sessions/group", json={"child_ids": ids}, headers=api.h("admin"))
    assert r.status_code == 201, r.text
    g = r.json()
    assert [s["child_id"] for s in g["sessions"]] == ids
    assert [s["device_id"] for s in g["sessions"]] == ["dev-a", "dev-b"]
    assert g["bands"] == {str(api.child_a.id): "dev-a", str(api.child_b.id): "dev-b"}
    assert api.hub.connected["dev-a"]["session_id"] == g["group_id"]
    gid = g["group_id"]
    second = g["sessions"][1]["id"]
    assert api.client.get(f"/api/sessions/{second}/group",
                          headers=api.h("admin")).json()["group_id"] == gid
    # tess sees only her child of the group; theo's child is not hers to start
    mine = api.client.get(f"/api/sessions/{gid}/group", headers=api.h("tess")).json()
    assert [s["child_id"] for s in mine["sessions"]] == [api.child_a.id]
    assert api.client.post("/api/sessions/group", json={"child_ids": ids},
                           headers=api.h("tess")).status_code == 404
    stop = api.client.post(f"/api/sessions/{gid}/stop_group", headers=api.h("admin")).json()
    assert stop["ended_at"] is not None
    assert all(s["ended_at"] for s in stop["sessions"])


def _many_children(api: Api, n: int) -> list[int]:
    ids = []
    for i in range(n):
        c = api.store.create_child(code=f"K-{i:03d}", display_name=f"Kid{i:02d}")
        ids.append(c.id)
    return ids


def test_sixteen_children_render_sixteen_tiles(api: Api) -> None:
    ids = _many_children(api, 16)
    gid = api.client.post("/api/sessions/group", json={"child_ids": ids},
                          headers=api.h("admin")).json()["group_id"]
    html = api.client.get(f"/sessions/{gid}/live", headers=api.h("admin")).text
    tiles = re.findall(r'<section class="gtile" id="tile-(\d+)" data-child-id="(\d+)"', html)
    assert sorted(int(t[1]) for t in tiles) == sorted(ids)
    assert 'class="gtiles compact"' in html and "not shown" not in html
    for i in range(16):
        assert f">Kid{i:02d}</button>" in html


def test_more_than_sixteen_says_how_many_are_not_shown(api: Api) -> None:
    ids = _many_children(api, 20)
    gid = api.client.post("/api/sessions/group", json={"child_ids": ids},
                          headers=api.h("admin")).json()["group_id"]
    html = api.client.get(f"/sessions/{gid}/live", headers=api.h("admin")).text
    assert len(re.findall(r'<section class="gtile"', html)) == 16
    assert "Showing 16 of 20 children" in html and "4 more are not shown" in html
    page2 = api.client.get(f"/sessions/{gid}/live?page=2", headers=api.h("admin")).text
    assert len(re.findall(r'<section class="gtile"', page2)) == 4


def test_six_children_get_full_tiles_with_pinned_buttons(api: Api) -> None:
    ids = _many_children(api, 6)
    api.store.set_favourites(ids[0], ["ves.bounce", "mov.break"])
    gid = api.client.post("/api/sessions/group", json={"child_ids": ids},
                          headers=api.h("admin")).json()["group_id"]
    html = api.client.get(f"/sessions/{gid}/live", headers=api.h("admin")).text
    assert 'class="gtiles"' in html and html.count('class="paused-banner"') == 6
    first = html.split(f'id="tile-{ids[0]}"')[1].split("</section>")[0]
    assert re.findall(r'data-tap="([^"]+)"', first) == ["ves.bounce", "mov.break"]


def test_review_and_note_draft_name_the_events(api: Api) -> None:
    cid = api.child_a.id
    # a session starting 10 min into the stored epochs: quiet (5 mg) then moving (80 mg)
    table = epoch_table(T0 + 600 * 10**9, 600, enmo=np.r_[np.full(300, 5.0), np.full(300, 150.0)])
    table["nonwear"][:] = 0                               # worn throughout
    api.store.write_batch(IngestBatch(epochs=[("dev-a", table)]))
    start = T0 + 600 * 10**9
    s = api.store.start_group([(cid, "dev-a")], created_by=None, started_at=start)[0]
    api.store.stop_session(s.id, ended_at=start + 1200 * 10**9)
    ev = api.store.create_event(cid, "ves.bounce", started_at=start + 300 * 10**9,
                                ended_at=start + 420 * 10**9, session_id=s.id, planned=True,
                                initiated_by="child", note="asked for it")
    undone = api.store.create_event(cid, "mov.break", started_at=start + 100 * 10**9,
                                    session_id=s.id)
    api.store.void_event(undone.id, reason="undone", by=None)
    note = api.client.get(f"/api/sessions/{s.id}/note?tz=UTC", headers=api.h("tess")).json()
    text = note["text"]
    label = api.store.get_strategy("ves.bounce").label
    assert f"{label}, planned, started by the child; activity higher during it than in the " \
           "5 minutes before." in text
    assert re.search(r"\d\d:\d\d-\d\d:\d\d " + re.escape(label), text)
    assert "mg" not in text and "asked for it" in text
    assert api.store.get_strategy("mov.break").label not in text     # undone: not in the note
    with_numbers = api.client.get(f"/api/sessions/{s.id}/note?tz=UTC&numbers=true",
                                  headers=api.h("tess")).json()["text"]
    assert "mg" in with_numbers
    for bad in ("dysregulat", "diagnos", "abnormal", "good", "bad"):
        assert bad not in text.lower()
    page = api.client.get(f"/sessions/{s.id}?tz=UTC", headers=api.h("tess")).text
    assert label in page and "undone" in page and f'data-event-id="{ev.id}"' in page
    assert api.client.get(f"/api/sessions/{s.id}/note?tz=Mars/Base",
                          headers=api.h("tess")).status_code == 422
    assert api.client.get(f"/api/sessions/{s.id}/note", headers=api.h("theo")).status_code == 404


def test_pages_render_for_admin(api: Api) -> None:
    for path in ("/admin", "/bands", "/sessions"):
        r = api.client.get(path, headers=api.h("admin"))
        assert r.status_code == 200, path
    assert api.client.get("/admin", headers=api.h("tess")).status_code == 403


def test_shaken_band_is_the_moving_one(api: Api) -> None:
    import time

    now = time.time_ns() // 10**9 * 10**9
    shaken = epoch_table(now - 12 * 10**9, 10, enmo=np.full(10, 400.0))
    still = epoch_table(now - 12 * 10**9, 10, enmo=np.full(10, 2.0))
    api.store.write_batch(IngestBatch(epochs=[("dev-a", shaken), ("dev-b", still)]))
    got = {m["device_id"]: m for m in api.client.get("/api/clinic/bands/motion",
                                                     headers=api.h("tess")).json()}
    assert got["dev-a"]["moving"] and not got["dev-b"]["moving"]
    assert got["dev-a"]["enmo_mg"] == 400.0


def test_live_page_says_how_many_children_are_not_shown(api: Api) -> None:
    _many_children(api, 7)                      # 9 children in all for the admin
    html = api.client.get("/live", headers=api.h("admin")).text
    assert "3 more are not shown" in html
    html = api.client.get("/live", headers=api.h("tess")).text
    assert 'id="not-shown"' not in html


def test_a_band_that_fails_does_not_undo_the_session(api: Api,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(target: str, **_: object) -> str:
        raise RuntimeError("radio off")

    monkeypatch.setattr(api.hub, "connect", broken)
    r = api.client.post("/api/sessions/group", json={"child_ids": [api.child_a.id]},
                        headers=api.h("tess"))
    assert r.status_code == 201
    assert r.json()["bands"][str(api.child_a.id)].startswith("not connected")
    assert api.store.list_sessions(child_id=api.child_a.id, open_only=True)


def test_the_last_administrator_cannot_be_locked_out(api: Api) -> None:
    """Deactivating or demoting the only active admin is refused (it would reopen setup)."""
    for change in (lambda: api.client.patch("/api/users/ada", json={"disabled": True},
                                            headers=api.h("admin")),
                   lambda: api.client.post("/api/admin/users/ada/role",
                                           json={"role": "therapist"}, headers=api.h("admin"))):
        r = change()
        assert r.status_code == 422 and "last active administrator" in r.json()["detail"]
        ada = api.store.find_user("ada")
        assert ada is not None and ada.role == "admin" and not ada.disabled
    assert not api.store.setup_pending()
    # with a second active admin, either change goes through
    r = api.client.post("/api/admin/users/rae/role", json={"role": "admin"},
                        headers=api.h("admin"))
    assert r.status_code == 200
    r = api.client.post("/api/admin/users/ada/role", json={"role": "therapist"},
                        headers=api.h("admin"))
    assert r.status_code == 200 and r.json()["role"] == "therapist"
    # rae is now the only admin: she cannot deactivate herself either
    rae = api.store.find_user("rae")
    assert rae is not None
    with pytest.raises(ValidationError, match="last active administrator"):
        api.store.set_user_disabled(rae.id, True)

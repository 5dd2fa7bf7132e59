"""Session pages and the live feed, asked for ids SQLite cannot hold, answer 404, not a
server error (issue 21)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from h5_api_support import Api, make_api


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    yield from make_api(tmp_path, monkeypatch)


@pytest.mark.parametrize("sid", ["99999999999999999999999", "9223372036854775808", "0", "-1"])
@pytest.mark.parametrize("page", ["/sessions/{}", "/sessions/{}/live"])
def test_out_of_range_session_page_is_404(api: Api, sid: str, page: str) -> None:
    r = api.client.get(page.format(sid), headers=api.h("therapist"), follow_redirects=False)
    assert r.status_code == 404, r.text
    assert "No such session" in r.text


def test_live_feed_for_an_out_of_range_child_is_404(api: Api) -> None:
    r = api.client.get("/api/live/sse", params={"child_id": "99999999999999999999999"},
                       headers=api.h("admin"))
    assert r.status_code == 404, r.text

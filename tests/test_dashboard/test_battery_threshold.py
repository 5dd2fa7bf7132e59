"""The therapist's screens mark a band's battery low at the server's ``alert_battery_pct``,
the threshold of the ``battery_low`` device alert: one source, so a tile, the bands page and
the alert list never disagree (the pages' own marking is walked in
tests/e2e/test_browser_battery)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from h5_api_support import Api, make_api

from movereg.pipeline.alerts import band_conditions
from movereg.pipeline.health import SignalHealth


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    yield from make_api(tmp_path, monkeypatch)


def _config(html: str, script_id: str) -> dict[str, object]:
    m = re.search(rf'<script type="application/json" id="{script_id}">(.*?)</script>', html,
                  re.S)
    assert m, script_id
    cfg: dict[str, object] = json.loads(m.group(1))
    return cfg


def _alerts_battery_low(api: Api, pct: int) -> bool:
    conds = band_conditions(device_id="dev-a", child_id=api.child_a.id, session_id=None,
                            now_ns=0, battery_pct=pct, last_rx_ns=None, health=SignalHealth(),
                            settings=api.client.app.state.settings)  # type: ignore[attr-defined]
    return any(c.kind == "battery_low" for c in conds)


@pytest.mark.parametrize("threshold", [15, 20, 33])
def test_live_pages_get_the_alert_threshold(api: Api, threshold: int) -> None:
    app = api.client.app
    app.state.settings = app.state.settings.model_copy(  # type: ignore[attr-defined]
        update={"alert_battery_pct": threshold})
    gid = api.client.post("/api/sessions/group", json={"child_ids": [api.child_a.id]},
                          headers=api.h("tess")).json()["group_id"]
    group = _config(api.client.get(f"/sessions/{gid}/live", headers=api.h("tess")).text,
                    "group-config")
    live = _config(api.client.get("/live", headers=api.h("tess")).text, "live-config")
    assert group["battery_low_pct"] == live["battery_low_pct"] == threshold
    # the page's rule (low at or below the number it got) is the alert's rule
    assert _alerts_battery_low(api, threshold) and not _alerts_battery_low(api, threshold + 1)


@pytest.mark.parametrize("threshold", [15, 20])
def test_the_bands_page_gets_the_alert_threshold(api: Api, threshold: int) -> None:
    """The bands page (band line and "on the band" line) marks low by the same setting."""
    app = api.client.app
    app.state.settings = app.state.settings.model_copy(  # type: ignore[attr-defined]
        update={"alert_battery_pct": threshold})
    r = api.client.get("/bands", headers=api.h("tess"))
    assert r.status_code == 200, r.text
    assert _config(r.text, "bands-config") == {"battery_low_pct": threshold}
    for script in ("/static/band_recording.js", "/static/bands.js"):
        assert f'<script src="{script}">' in r.text, script
        js = api.client.get(script).text
        assert "M.battery(" in js and "cfg.battery_low_pct" in js, script


def test_no_threshold_of_its_own_in_the_scripts() -> None:
    static = Path(__file__).resolve().parents[2] / "src/movereg/dashboard/static"
    for name in ("session.js", "live.js", "bands.js", "band_recording.js"):
        text = (static / name).read_text()
        assert "battery_low_pct" in text, name
        assert not re.search(r"battery_pct\s*<=?\s*\d", text), name

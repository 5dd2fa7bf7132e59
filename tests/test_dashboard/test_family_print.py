"""The day as one printed page: ``GET /api/children/{id}/day.pdf`` renders the day page in
headless Chromium; a full day with many events, check-ins, non-wear and a radio gap is
still one A4 (and one Letter) page. Saved to ``test-artifacts/family-day*.pdf``."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from h5_api_support import Api, make_api

from movereg.signal import EpochTable
from movereg.signal.schema import EPOCH_COLUMNS
from movereg.storage import IngestBatch

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]
NS = 10**9
D0 = 1_772_409_600 * NS  # 2026-03-02T00:00:00Z
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
_STRATEGIES = ("pro.wall_push", "ves.bounce", "pro.carry", "mov.break", "tac.fidget",
               "int.breathe", "env.calm_corner", "pro.crash")


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    if not Path("/usr/bin/chromium").exists() and shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed")
    pytest.importorskip("playwright.sync_api")
    yield from make_api(tmp_path, monkeypatch)


def _full_day(api: Api) -> None:
    """06:00-22:00 of 5-s epochs, an hour off the wrist, a 40-min radio gap, 32 events,
    a home plan and check-ins."""
    rng = np.random.default_rng(4)
    t0 = D0 + 6 * 3600 * NS
    n = 16 * 720
    cols = {name: np.zeros(n, dtype=dt) for name, dt in EPOCH_COLUMNS}
    enmo = np.exp(rng.normal(3.8, 1.2, n))
    cols.update(epoch_start=t0 + np.arange(n, dtype=np.int64) * 5 * NS,
                epoch_s=np.full(n, 5.0), coverage=np.ones(n), enmo_mg=enmo,
                zone=np.searchsorted([35.6, 201.4, 707.0], enmo, side="right").astype(np.int8),
                rhythm_hz=np.full(n, np.nan), rhythmic_fraction=rng.random(n))
    cols["nonwear"][4 * 720:5 * 720] = 1                         # 10:00-11:00 off the wrist
    keep = np.ones(n, dtype=bool)
    keep[8 * 720:8 * 720 + 480] = False                          # 14:00-14:40 no signal
    table = EpochTable({k: np.ascontiguousarray(v[keep]) for k, v in cols.items()})
    api.store.assign_device("dev-day", api.child_a.id, at_ns=D0)
    api.store.write_batch(IngestBatch(epochs=[("dev-day", table)]))
    for k in range(32):
        api.store.create_event(api.child_a.id, _STRATEGIES[k % len(_STRATEGIES)],
                               started_at=t0 + k * 1700 * NS, planned=k % 3 == 0,
                               note="after tea, in the garden" if k % 5 == 0 else "")
    api.store.add_plan_item(api.child_a.id, "pro.carry", by="tess", when_text="after school")
    api.store.add_plan_item(api.child_a.id, "ves.bounce", by="tess", times_per_day=2)
    api.store.set_child_settings(api.child_a.id, by="pat", checkins_enabled=True, tz="UTC")
    for h, r in ((8, 3), (16, 4), (19, 2)):
        api.store.add_checkin(api.child_a.id, at_ns=D0 + h * 3600 * NS, rating=r,
                              note="a busy bit of the day", part="afternoon")


def _pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page[^s]", pdf))


def test_a_full_day_prints_on_one_page(api: Api) -> None:
    _full_day(api)
    ARTIFACTS.mkdir(exist_ok=True)
    for paper in ("A4", "Letter"):
        r = api.client.get(f"/api/children/{api.child_a.id}/day.pdf",
                           params={"day": "2026-03-02", "paper": paper},
                           headers=api.h("parent"))
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/pdf" and r.content[:5] == b"%PDF-"
        (ARTIFACTS / f"family-day-{paper}.pdf").write_bytes(r.content)
        assert _pages(r.content) == 1, (paper, _pages(r.content))
    audit = [e for e in api.store.list_audit(limit=20) if e.action == "day.pdf"]
    assert len(audit) == 2


def test_the_pdf_is_for_the_childs_carers_only(api: Api) -> None:
    r = api.client.get(f"/api/children/{api.child_b.id}/day.pdf", headers=api.h("parent"))
    assert r.status_code == 404
    r = api.client.get(f"/api/children/{api.child_a.id}/day.pdf", headers=api.h("researcher"))
    assert r.status_code == 403

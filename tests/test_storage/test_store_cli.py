"""`movereg user` and `movereg export` against a real data directory."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from argon2 import PasswordHasher
from h5_store_support import T0, block, epochs

from movereg.cli import main
from movereg.config import Settings
from movereg.dashboard import auth as auth_mod
from movereg.storage import IngestBatch, Store

PW = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _fast_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth_mod, "_hasher",
                        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = main(args)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_user_add_list_link(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    d = str(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO(PW + "\n"))
    assert _run(["user", "--data-dir", d, "add", "tess", "--role", "therapist",
                 "--password-stdin"], capsys)[0] == 0
    prompts = iter([PW, PW])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(prompts))
    assert _run(["user", "--data-dir", d, "add", "ada", "--role", "admin"], capsys)[0] == 0
    rc, out, _ = _run(["user", "--data-dir", d, "add-child", "--code", "KID-1",
                       "--name", "Robin"], capsys)
    assert rc == 0 and out.strip() == "KID-1"
    assert _run(["user", "--data-dir", d, "link", "tess", "--child", "KID-1"], capsys)[0] == 0
    rc, out, _ = _run(["user", "--data-dir", d, "list"], capsys)
    assert "tess\ttherapist\tKID-1" in out and "ada\tadmin" in out
    rc, _, err = _run(["user", "--data-dir", d, "link", "tess", "--child", "NOPE"], capsys)
    assert rc == 2 and "no child" in err and "Traceback" not in err
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    rc, _, err = _run(["user", "--data-dir", d, "add", "pat", "--role", "parent",
                       "--password-stdin"], capsys)
    assert rc == 2 and "at least" in err
    prompts2 = iter([PW, PW + "x"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(prompts2))
    rc, _, err = _run(["user", "--data-dir", d, "add", "pat", "--role", "parent"], capsys)
    assert rc == 2 and "differ" in err
    with Store(Settings(data_dir=tmp_path).db_path) as store:
        user = store.find_user("tess")
        assert user is not None and user.password_hash.startswith("$argon2")
        assert auth_mod.verify_password(user.password_hash, PW)
        assert store.verify_audit().ok
    rc, out, _ = _run(["user", "--data-dir", d, "verify-audit"], capsys)
    assert rc == 0 and "intact" in out


def test_export_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = Settings(data_dir=tmp_path).db_path
    with Store(db) as store:
        child = store.create_child(code="KID-1")
        store.write_batch(IngestBatch(epochs=[("AA:BB:CC:DD:EE:FF", epochs(T0, 120))],
                                      raw=[("AA:BB:CC:DD:EE:FF", block("x", T0 + i * 10**9))
                                           for i in range(20)]))
        store.assign_device("AA:BB:CC:DD:EE:FF", child.id, at_ns=T0)
    out = tmp_path / "e.csv"
    iso = datetime.fromtimestamp(T0 / 1e9 + 30, tz=UTC).isoformat()
    rc, text, _ = _run(["export", "--data-dir", str(tmp_path), "--what", "epochs",
                        "--out", str(out), "--child", "KID-1", "--from", iso], capsys)
    assert rc == 0 and "sha256" in text
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 90 and "AA:BB" not in out.read_text()
    assert (tmp_path / "e.dictionary.csv").exists()
    pq_out = tmp_path / "raw.parquet"
    assert _run(["export", "--data-dir", str(tmp_path), "--what", "raw", "--format",
                 "parquet", "--out", str(pq_out)], capsys)[0] == 0
    t = pq.read_table(pq_out)
    assert t.num_rows == 20 * 52
    assert np.array_equal(t.column("x_g").to_numpy()[:52], block("x", T0).samples[:, 0])
    rc, _, err = _run(["export", "--data-dir", str(tmp_path), "--what", "raw", "--out",
                       str(out), "--from", "2025-01-01T00:00:00"], capsys)
    assert rc == 2 and "offset" in err
    rc, _, err = _run(["export", "--data-dir", str(tmp_path / "none"), "--what", "raw",
                       "--out", str(out)], capsys)
    assert rc == 2 and "no movereg database" in err


def test_export_command_epoch_length_features_and_research(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from movereg.analysis import aggregate_epochs

    db = Settings(data_dir=tmp_path).db_path
    with Store(db) as store:
        child = store.create_child(code="KID-1")
        store.write_batch(IngestBatch(epochs=[("dev-1", epochs(T0, 120))]))
        store.assign_device("dev-1", child.id, at_ns=T0)
        want = aggregate_epochs(store.epochs(device_id="dev-1"), 15.0)
    d = str(tmp_path)
    out = tmp_path / "e15.csv"
    rc, _, err = _run(["export", "--data-dir", d, "--what", "epochs", "--out", str(out),
                       "--epoch", "15", "--features", "enmo_mg,impacts"], capsys)
    assert rc == 0, err
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["child_code", "device", "epoch_start", "epoch_s", "coverage",
                             "enmo_mg", "impacts"]
    np.testing.assert_allclose([float(r["enmo_mg"]) for r in rows], want["enmo_mg"])
    assert [int(r["impacts"]) for r in rows] == want["impacts"].tolist()
    rules = json.loads((tmp_path / "e15.aggregation.json").read_text())
    assert rules["epoch_s"] == 15.0 and set(rules["rules"]) == {
        "epoch_start", "epoch_s", "coverage", "enmo_mg", "impacts"}
    pq_out = tmp_path / "e15.parquet"
    assert _run(["export", "--data-dir", d, "--what", "epochs", "--format", "parquet",
                 "--out", str(pq_out), "--epoch", "15"], capsys)[0] == 0
    assert pq.read_table(pq_out).schema.metadata[b"movereg.epoch_s"] == b"15"
    for extra, needle in ((["--epoch", "2.5"], "whole multiple"),
                          (["--features", "enmo_mg,nope"], "valid:"),
                          (["--research", "--child", "KID-1"], "research consent")):
        rc, _, err = _run(["export", "--data-dir", d, "--what", "epochs", "--out",
                           str(tmp_path / "x.csv"), *extra], capsys)
        assert rc == 2 and needle in err and "Traceback" not in err, (extra, err)
    rc, _, err = _run(["export", "--data-dir", d, "--what", "raw", "--out",
                       str(tmp_path / "x.csv"), "--epoch", "5"], capsys)
    assert rc == 2 and "epochs only" in err
    with Store(db) as store:
        store.record_consent(child.id, consented=True, recorded_by="t")
    assert _run(["export", "--data-dir", d, "--what", "epochs", "--out",
                 str(tmp_path / "r.csv"), "--research"], capsys)[0] == 0
    assert "KID-1" in (tmp_path / "r.csv").read_text()
    rc, _, err = _run(["export", "--data-dir", d, "--what", "raw", "--out",
                       str(tmp_path / "r.csv"), "--research", "--child", "KID-1"], capsys)
    assert rc == 2 and "raw samples" in err

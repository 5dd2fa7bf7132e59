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

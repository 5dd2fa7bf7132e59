"""The secrets file on a new data directory: processes starting together agree on one key."""

from __future__ import annotations

from pathlib import Path

import pytest

from movereg.storage import _secrets
from movereg.storage._secrets import load_secrets, secret_bytes


def test_a_key_published_between_read_and_write_is_kept(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process publishes its key just after this one found no file: this one takes
    that key instead of replacing it (two keys would split the audit log's anchor)."""
    theirs = "ab" * 32
    real_load = _secrets.load_secrets
    calls = 0

    def load_then_other_process_publishes(data_dir: Path) -> dict[str, str]:
        nonlocal calls
        calls += 1
        values = real_load(data_dir)
        if calls == 1:       # the other process wins the race right after our read
            assert _secrets._publish(data_dir, {"audit_key": theirs}, exclusive=True)
        return values

    monkeypatch.setattr(_secrets, "load_secrets", load_then_other_process_publishes)
    key, created = secret_bytes(tmp_path, "audit_key")
    assert key.hex() == theirs and not created
    assert load_secrets(tmp_path) == {"audit_key": theirs}

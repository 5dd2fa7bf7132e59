"""SIGKILL while writing: the file stays sound, committed batches survive, no duplicates.

(The full server crash test, with the hub and a recorded crash gap, is in tests/e2e.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from h5_store_support import T0, epochs

from movereg.storage import IngestBatch, Store

_WRITER = r"""
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from h5_store_support import T0, block, epochs
from movereg.storage import IngestBatch, Store

store = Store(Path(sys.argv[1]))
progress = Path(sys.argv[2])
i = 0
while True:
    t = T0 + i * 10 * 10**9
    store.write_batch(IngestBatch(
        raw=[("dev", block("dev", t + k * 10**9, seed=k)) for k in range(10)],
        epochs=[("dev", epochs(t, 10, seed=i))]))
    tmp = progress.with_suffix(".tmp")
    tmp.write_text(str(i))
    tmp.replace(progress)  # atomic: a reader never sees a half-written number
    i += 1
"""


def test_sigkill_mid_write_leaves_a_sound_database(tmp_path: Path) -> None:
    db = tmp_path / "m.sqlite3"
    progress = tmp_path / "progress"
    Store(db).close()
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(db), str(progress),
                             str(Path(__file__).parent)])
    try:
        deadline = time.monotonic() + 60
        while True:
            if progress.exists() and int(progress.read_text()) >= 30:
                break
            assert proc.poll() is None, "writer died"
            assert time.monotonic() < deadline, "writer too slow"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    done = int(progress.read_text())
    with Store(db) as store:  # opening runs quick_check
        assert store.integrity_check()
        rows, distinct = store.count_epochs("dev")
        assert rows == distinct
        assert rows >= (done + 1) * 10  # every batch reported committed is there
        n_blocks = len(list(store.iter_raw(device_id="dev", page_blocks=500)))
        assert n_blocks == rows  # batches are all-or-nothing: 10 blocks with 10 epochs
        # ingestion resumes and re-sending the last batches adds nothing
        last = T0 + done * 10 * 10**9
        store.write_batch(IngestBatch(epochs=[("dev", epochs(last, 10, seed=done))]))
        assert store.count_epochs("dev") == (rows, rows)

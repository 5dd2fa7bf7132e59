"""Import a 7-day 100 Hz CWA through the API vs ``movereg features`` on the same file.

The recording is written here from the CWA format itself (Axivity's OMGUI ``cwa.h``:
1024-byte ``MD`` header, 512-byte ``AX`` data sectors of 80 unpacked int16 x/y/z samples
at 1/256 g, packed local-time stamps, 16-bit word checksum), vectorised and streamed to
disk in bounded memory: 7 days x 100 Hz = 60,480,000 samples in 756,000 sectors
(387 MB). The movement is synthetic (daytime activity, still nights), deterministic.

Runs, on the same file in the same process tree:

1. ``movereg features FILE --out OUT.parquet --epoch 1 --tz UTC`` as a subprocess
   (the engine's 1-s epochs, as imports use the live epoch), wall time and the process's
   peak RSS (``wait4``). Its start-up (imports, Numba cache) is measured separately on a
   one-sector file and reported, so the ratio can be read with or without it.
2. ``movereg serve`` as a subprocess with one therapist; after a warm-up import of a tiny
   file, the big file is uploaded to ``POST /api/children/{id}/imports`` (streamed
   multipart) and ``GET /api/imports/{id}`` is polled until done. Wall time from the first
   byte of the upload to ``done``; peak RSS of the server process over its whole life.

Targets (the issue): import <= 1.5x features alone; server peak memory <= 500 MB.
Environment: ``MOVEREG_BENCH_IMPORT_DAYS`` (default 7) to shorten a run.
"""

from __future__ import annotations

import http.client
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "import.json"
FS_HZ = 100
PER_SECTOR = 80
_SECTOR = np.dtype([
    ("magic", "S2"), ("length", "<u2"), ("fraction", "<u2"), ("session", "<u4"),
    ("sequence", "<u4"), ("timestamp", "<u4"), ("light", "<u2"), ("temperature", "<u2"),
    ("events", "u1"), ("battery", "u1"), ("rate", "u1"), ("format", "u1"),
    ("offset", "<i2"), ("count", "<u2"), ("data", "<i2", (PER_SECTOR * 3,)),
    ("checksum", "<u2")])
_RATE_CODE = 0x40 | 10  # +-8 g, 3200 / 2^(15-10) = 100 Hz
_PASSWORD = "correct horse battery staple"


def _packed_time(seconds: np.ndarray) -> np.ndarray:
    """CWA packed date-time (local clock = UTC here) of whole Unix seconds."""
    t = seconds.astype("datetime64[s]")
    year = t.astype("datetime64[Y]").astype(np.int64) + 1970
    month = t.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (t.astype("datetime64[D]") - t.astype("datetime64[M]")).astype(np.int64) + 1
    sod = (t - t.astype("datetime64[D]")).astype(np.int64)
    return ((((year - 2000) & 0x3F) << 26) | (month << 22) | (day << 17)
            | ((sod // 3600) << 12) | ((sod // 60 % 60) << 6) | (sod % 60)).astype(np.uint32)


def _movement(i0: int, n: int) -> np.ndarray:
    """Synthetic wrist movement (g), samples ``i0 .. i0+n`` at 100 Hz: active days, still
    nights."""
    t = (i0 + np.arange(n)) / FS_HZ
    hour = (t / 3600.0) % 24
    active = ((hour >= 7) & (hour < 20)).astype(np.float64)
    amp = active * 0.25 * (1.0 + np.sin(2 * np.pi * t / 5400.0))
    rng = np.random.default_rng(i0)
    x = amp * np.sin(2 * np.pi * 1.3 * t) + 0.01 * rng.standard_normal(n)
    y = 0.5 * amp * np.cos(2 * np.pi * 0.7 * t) + 0.01 * rng.standard_normal(n)
    z = 1.0 + 0.2 * amp * np.sin(2 * np.pi * 2.1 * t) + 0.01 * rng.standard_normal(n)
    return np.column_stack([x, y, z])


def write_cwa(path: Path, days: float, *, start_s: int = 1_778_572_800,
              device_id: int = 31337) -> int:
    """Write a ``days``-long 100 Hz AX3 CWA at ``start_s`` (Unix s, local = UTC); returns
    the number of samples. Memory stays bounded (sectors are built 10,000 at a time)."""
    n_sectors = int(days * 86_400 * FS_HZ) // PER_SECTOR
    head = bytearray(1024)
    head[0:2] = b"MD"
    head[2:4] = (1020).to_bytes(2, "little")
    head[4] = 0x17  # AX3
    head[5:7] = (device_id & 0xFFFF).to_bytes(2, "little")
    head[7:11] = (1).to_bytes(4, "little")
    head[13:17] = int(_packed_time(np.array([start_s]))[0]).to_bytes(4, "little")
    head[17:21] = int(_packed_time(np.array([start_s + int(days * 86_400) + 86_400]))[0]
                      ).to_bytes(4, "little")
    head[36] = _RATE_CODE
    head[41] = 45
    head[42:44] = (-1).to_bytes(2, "little", signed=True)
    head[64:512] = b"\xff" * 448
    step = 10_000
    with open(path, "wb") as fh:
        fh.write(bytes(head))
        for k0 in range(0, n_sectors, step):
            k = np.arange(k0, min(k0 + step, n_sectors), dtype=np.int64)
            rec = np.zeros(k.shape[0], dtype=_SECTOR)
            rec["magic"], rec["length"], rec["session"] = b"AX", 508, device_id & 0xFFFF
            rec["sequence"] = k
            first = k * PER_SECTOR  # index of each sector's first sample
            rec["timestamp"] = _packed_time(start_s + first // FS_HZ)
            rec["offset"] = -(first % FS_HZ)  # the whole second applies to sample -offset
            rec["temperature"], rec["battery"] = 258, 190
            rec["rate"], rec["format"], rec["count"] = _RATE_CODE, 0x32, PER_SECTOR
            acc = _movement(int(first[0]), k.shape[0] * PER_SECTOR)
            rec["data"] = np.clip(np.round(acc * 256), -32768, 32767).astype("<i2").reshape(
                k.shape[0], PER_SECTOR * 3)
            words = rec.view("<u2").reshape(k.shape[0], 256)
            total = words[:, :255].astype(np.int64).sum(axis=1) & 0xFFFF
            rec["checksum"] = ((-total) & 0xFFFF).astype(np.uint16)
            fh.write(rec.tobytes())
    return n_sectors * PER_SECTOR


def _env() -> dict[str, str]:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return env


class _Sampler:
    """Peak anonymous (heap) and file-backed resident memory of a process, MiB, from
    ``/proc/<pid>/status`` every 0.1 s (Linux; zeros elsewhere). ``ru_maxrss`` counts the
    pages of a memory-mapped input file too; RssAnon is what the process itself holds."""

    def __init__(self, pid: int) -> None:
        self.pid, self.anon, self.file = pid, 0.0, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        status = Path(f"/proc/{self.pid}/status")
        while not self._stop.is_set():
            try:
                text = status.read_text()
            except OSError:
                return
            for line in text.splitlines():
                if line.startswith("RssAnon:"):
                    self.anon = max(self.anon, int(line.split()[1]) / 1024.0)
                elif line.startswith("RssFile:"):
                    self.file = max(self.file, int(line.split()[1]) / 1024.0)
            self._stop.wait(0.1)

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        return {"peak_anon_mib": self.anon, "peak_file_mib": self.file}


def _run_measured(cmd: list[str]) -> tuple[float, float, dict[str, float]]:
    """Run ``cmd``; (wall s, peak RSS MiB, anon/file peaks) of that process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    sampler = _Sampler(proc.pid)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    peaks = sampler.stop()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.read().decode()[-2000:]}"
                           if proc.stderr else "failed")
    return wall, usage.ru_maxrss / 1024.0, peaks


def _features(path: Path, out: Path) -> tuple[float, float, dict[str, float]]:
    return _run_measured([sys.executable, "-m", "movereg", "features", str(path), "--out",
                          str(out), "--epoch", "1", "--tz", "UTC"])


def _seed(data: Path) -> tuple[int, str]:
    from movereg.dashboard.auth import hash_password
    from movereg.storage import Store

    with Store(data / "movereg.sqlite3") as st:
        child = st.create_child(code="KID-BENCH", display_name="Bench")
        uid = st.create_user("tess", hash_password(_PASSWORD), "therapist").id
        st.link_user_child(uid, child.id)
        return child.id, st.create_token(uid, "bearer", 86_400)[0]


def _request(port: int, token: str, method: str, url: str) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request(method, url, headers={"Authorization": f"Bearer {token}"})
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def _upload(port: int, token: str, child: int, path: Path) -> dict[str, Any]:
    """Stream a multipart upload (1 MiB at a time); the JSON answer."""
    b = uuid.uuid4().hex
    head = (f"--{b}\r\nContent-Disposition: form-data; name=\"tz\"\r\n\r\nUTC\r\n--{b}\r\n"
            f"Content-Disposition: form-data; name=\"file\"; filename=\"{path.name}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{b}--\r\n".encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    try:
        conn.putrequest("POST", f"/api/children/{child}/imports")
        conn.putheader("Authorization", f"Bearer {token}")
        conn.putheader("Content-Type", f"multipart/form-data; boundary={b}")
        conn.putheader("Content-Length", str(len(head) + path.stat().st_size + len(tail)))
        conn.endheaders()
        conn.send(head)
        with open(path, "rb") as fh:
            while block := fh.read(1 << 20):
                conn.send(block)
        conn.send(tail)
        resp = conn.getresponse()
        body: dict[str, Any] = json.loads(resp.read())
        if resp.status not in (200, 202):
            raise RuntimeError(f"upload failed: {resp.status} {body}")
        return body
    finally:
        conn.close()


def _wait_done(port: int, token: str, import_id: int) -> dict[str, Any]:
    while True:
        st: dict[str, Any] = _request(port, token, "GET", f"/api/imports/{import_id}")
        if st["status"] not in ("pending", "running"):
            if st["status"] != "done":
                raise RuntimeError(f"import failed: {st}")
            return st
        time.sleep(0.25)


def _serve_and_import(data: Path, tiny: Path, big: Path) -> dict[str, Any]:
    child, token = _seed(data)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "movereg", "serve", "--data-dir", str(data),
                             "--port", str(port)], env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    sampler = _Sampler(proc.pid)
    try:
        for _ in range(600):
            try:
                _request(port, token, "GET", "/api/health")
                break
            except OSError:
                time.sleep(0.2)
        warm = _upload(port, token, child, tiny)  # imports, Numba cache: a running server's
        _wait_done(port, token, int(warm["id"]))
        t0 = time.perf_counter()
        first = _upload(port, token, child, big)
        t_up = time.perf_counter() - t0
        done = _wait_done(port, token, int(first["id"]))
        wall = time.perf_counter() - t0
    finally:
        proc.terminate()
        _, _, usage = os.wait4(proc.pid, 0)
        peaks = sampler.stop()
    import sqlite3

    db = data / "movereg.sqlite3"
    with sqlite3.connect(db) as con:
        raw_blocks, raw_samples = con.execute(
            "SELECT COUNT(*), COALESCE(SUM(n), 0) FROM raw_blocks WHERE device_id = ?",
            (f"import-{int(first['id'])}",)).fetchone()
    return {"wall_s": wall, "upload_s": t_up, "peak_rss_mib": usage.ru_maxrss / 1024.0,
            **peaks, "epochs": done["n_epochs"], "samples_read": done["samples_read"],
            "raw_blocks": int(raw_blocks), "raw_samples": int(raw_samples),
            "db_mb": db.stat().st_size / 1e6}


def main() -> None:
    days = float(os.environ.get("MOVEREG_BENCH_IMPORT_DAYS", "7"))
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmpdir:
        tmp = Path(tmpdir)
        big, tiny = tmp / "week.cwa", tmp / "tiny.cwa"
        t0 = time.perf_counter()
        # a recent week (as a lent AX3 is imported when it comes back): its raw samples
        # are within the raw-retention setting (90 days), so the import stores them too
        recent = int(time.time()) // 86_400 * 86_400 - int((days + 1) * 86_400)
        n = write_cwa(big, days, start_s=recent)
        t_write = time.perf_counter() - t0
        write_cwa(tiny, 60 / 86_400, start_s=1_700_000_000, device_id=7)
        startup_s, _, _ = _features(tiny, tmp / "tiny.parquet")
        feat_s, feat_mib, feat_peaks = _features(big, tmp / "week.parquet")
        imp = _serve_and_import(tmp / "data", tiny, big)
    size_mb = (1024 + n // PER_SECTOR * 512) / 1e6
    ratio = imp["wall_s"] / feat_s
    ratio_no_startup = imp["wall_s"] / max(feat_s - startup_s, 1e-9)
    rows = [
        ("file", f"{days:g} days x 100 Hz, {n:,} samples, {size_mb:,.0f} MB "
                 f"(written in {t_write:.1f} s)"),
        ("movereg features", f"{feat_s:.1f} s (start-up {startup_s:.1f} s), peak RSS "
                             f"{feat_mib:.0f} MiB (anon {feat_peaks['peak_anon_mib']:.0f}, "
                             f"file {feat_peaks['peak_file_mib']:.0f})"),
        ("import via API", f"{imp['wall_s']:.1f} s (upload {imp['upload_s']:.1f} s), server "
                           f"peak RSS {imp['peak_rss_mib']:.0f} MiB (anon "
                           f"{imp['peak_anon_mib']:.0f}, file {imp['peak_file_mib']:.0f}), "
                           f"{imp['epochs']:,} epochs, {imp['raw_samples']:,} raw samples "
                           f"in {imp['raw_blocks']:,} blocks (database {imp['db_mb']:,.0f} MB)"),
        ("ratio import / features", f"{ratio:.2f}x (without features' start-up "
                                    f"{ratio_no_startup:.2f}x); target <= 1.5x"),
    ]
    for k, v in rows:
        print(f"{k:>26}: {v}")
    payload = {"benchmark": "import", "python": platform.python_version(),
               "machine": platform.machine(), "cpus": os.cpu_count(), "days": days,
               "samples": n, "file_mb": size_mb, "write_s": t_write,
               "features_s": feat_s, "features_startup_s": startup_s,
               "features_peak_rss_mib": feat_mib, "features_peaks": feat_peaks,
               "import": imp, "ratio": ratio,
               "ratio_without_features_startup": ratio_no_startup,
               "targets": {"ratio": 1.5, "peak_rss_mib": 500}}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = RESULTS.with_suffix(".json.tmp")
    tmp_out.write_text(json.dumps(payload, indent=2))
    tmp_out.replace(RESULTS)


if __name__ == "__main__":
    main()

"""The data directory's secrets file (``secrets.json``, mode 0600), kept outside the database.

It holds keys that must not travel with the database file alone: today the audit log's
HMAC key (see :mod:`movereg.storage._anchor`). Whoever can read this file and write the
database can forge the audit log; whoever has only the database file cannot.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path

from movereg.errors import StorageError

__all__ = ["SECRETS_FILE", "load_secrets", "secret_bytes", "write_secrets"]

SECRETS_FILE = "secrets.json"


def load_secrets(data_dir: Path) -> dict[str, str]:
    """The secrets of ``data_dir`` (empty when the file does not exist).

    Raises
    ------
    StorageError
        The file exists but cannot be read or is not a JSON object of strings.
    """
    path = data_dir / SECRETS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise StorageError(f"cannot read {path}: {exc.strerror or exc}",
                           advice="check the file's owner and permissions") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StorageError(f"{path} is damaged: {exc.msg}",
                           advice="restore it from a backup") from exc
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise StorageError(f"{path} is damaged: not an object of strings",
                           advice="restore it from a backup")
    return {str(k): str(v) for k, v in data.items()}


def write_secrets(data_dir: Path, values: dict[str, str]) -> None:
    """Replace the secrets file atomically, readable by its owner only (0600)."""
    _publish(data_dir, values, exclusive=False)


def _publish(data_dir: Path, values: dict[str, str], *, exclusive: bool) -> bool:
    """Write ``values`` to a private temporary file, then move it into place.

    ``exclusive`` only creates the file when none exists (processes starting together on
    a new data directory agree on one key) and returns False when another was first.
    """
    path = data_dir / SECRETS_FILE
    tmp = path.with_name(f"{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(values, fh, indent=1, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        if not exclusive:
            os.replace(tmp, path)
            return True
        try:
            os.link(tmp, path)          # atomic, and fails when the file exists
        except FileExistsError:
            return False
        except OSError:                 # no hard links here (e.g. FAT): plain replace
            os.replace(tmp, path)
        return True
    except OSError as exc:
        raise StorageError(f"cannot write {path}: {exc.strerror or exc}",
                           advice="check free space and permissions of the data "
                                  "directory") from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def secret_bytes(data_dir: Path, name: str, *, nbytes: int = 32) -> tuple[bytes, bool]:
    """The secret ``name`` as bytes, created (random, ``nbytes``) when missing.

    Returns
    -------
    tuple
        ``(key, created)``; ``created`` is True when this call made the key.
    """
    # whether the file existed is asked BEFORE it is read: asked after, a file another
    # process has just published would look like ours to extend, and its key be replaced
    existed = (data_dir / SECRETS_FILE).exists()
    values = load_secrets(data_dir)
    if name in values:
        try:
            return bytes.fromhex(values[name]), False
        except ValueError as exc:
            raise StorageError(f"{data_dir / SECRETS_FILE}: {name} is not hex",
                               advice="restore the file from a backup") from exc
    key = secrets.token_bytes(nbytes)
    if values or existed:
        write_secrets(data_dir, {**values, name: key.hex()})
        return key, True
    if not _publish(data_dir, {name: key.hex()}, exclusive=True):
        return secret_bytes(data_dir, name, nbytes=nbytes)  # another process made it first
    return key, True

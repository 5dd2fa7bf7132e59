"""SQLite storage (stdlib sqlite3, WAL): sensor data, children, events, users, audit log.

Entry points: :class:`Store` (sync, thread-safe) and :class:`BatchWriter` (async sink
the pipeline feeds; one transaction about twice a second).
"""

from movereg.storage._backup import BackupInfo, create_backup, restore_backup
from movereg.storage._consent import CONSENT_SCOPES
from movereg.storage._db import SCHEMA_VERSION
from movereg.storage._events import load_default_strategies
from movereg.storage._ingest import (
    EPOCH_NAMES,
    EpochTableLike,
    IngestBatch,
    decode_samples,
    encode_samples,
)
from movereg.storage._people import new_child_code
from movereg.storage.batch import BatchWriter, BatchWriterStats
from movereg.storage.records import (
    ROLES,
    AnchorCheck,
    AuditEntry,
    AuditVerification,
    Child,
    Consent,
    ConsentScope,
    DeviceRecord,
    GapRecord,
    RawChunk,
    Role,
    Session,
    Strategy,
    StrategyEvent,
    TokenInfo,
    User,
)
from movereg.storage.store import Store

__all__ = [
    "CONSENT_SCOPES",
    "EPOCH_NAMES",
    "ROLES",
    "SCHEMA_VERSION",
    "AnchorCheck",
    "AuditEntry",
    "AuditVerification",
    "BackupInfo",
    "BatchWriter",
    "BatchWriterStats",
    "Child",
    "Consent",
    "ConsentScope",
    "DeviceRecord",
    "EpochTableLike",
    "GapRecord",
    "IngestBatch",
    "RawChunk",
    "Role",
    "Session",
    "Store",
    "Strategy",
    "StrategyEvent",
    "TokenInfo",
    "User",
    "create_backup",
    "decode_samples",
    "encode_samples",
    "load_default_strategies",
    "new_child_code",
    "restore_backup",
]

"""SQLite storage (stdlib sqlite3, WAL): sensor data, children, events, users, audit log.

Entry points: :class:`Store` (sync, thread-safe) and :class:`BatchWriter` (async sink
the pipeline feeds; one transaction about twice a second).
"""

from movereg.storage._backup import BackupInfo, create_backup, restore_backup
from movereg.storage._band_recordings import BandRecorderRecord, BandRecordingRecord
from movereg.storage._calibration import CalibrationUse, DeviceCalibration
from movereg.storage._consent import CONSENT_SCOPES
from movereg.storage._db import SCHEMA_VERSION
from movereg.storage._events import load_default_strategies
from movereg.storage._family import Checkin, ChildSettings, PlanItem, check_tz
from movereg.storage._ingest import (
    EPOCH_NAMES,
    EpochTableLike,
    IngestBatch,
    decode_samples,
    encode_samples,
)
from movereg.storage._people import new_child_code
from movereg.storage._relays import RelayBand, RelayToken, is_relay_token
from movereg.storage._sources import (
    AlreadyImported,
    SourceRecord,
    import_device_id,
    upload_path,
    uploads_dir,
)
from movereg.storage._timeline import PRECEDENCE_RULE, SourceSpan
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
    "PRECEDENCE_RULE",
    "ROLES",
    "SCHEMA_VERSION",
    "AlreadyImported",
    "AnchorCheck",
    "AuditEntry",
    "AuditVerification",
    "BackupInfo",
    "BandRecorderRecord",
    "BandRecordingRecord",
    "BatchWriter",
    "BatchWriterStats",
    "CalibrationUse",
    "Checkin",
    "Child",
    "ChildSettings",
    "Consent",
    "ConsentScope",
    "DeviceCalibration",
    "DeviceRecord",
    "EpochTableLike",
    "GapRecord",
    "IngestBatch",
    "PlanItem",
    "RawChunk",
    "RelayBand",
    "RelayToken",
    "Role",
    "Session",
    "SourceRecord",
    "SourceSpan",
    "Store",
    "Strategy",
    "StrategyEvent",
    "TokenInfo",
    "User",
    "check_tz",
    "create_backup",
    "decode_samples",
    "encode_samples",
    "import_device_id",
    "is_relay_token",
    "load_default_strategies",
    "new_child_code",
    "restore_backup",
    "upload_path",
    "uploads_dir",
]

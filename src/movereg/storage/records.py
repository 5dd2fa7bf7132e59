"""Plain records returned by :class:`movereg.storage.Store` (frozen dataclasses).

Times are UTC ns since the Unix epoch (``int``); ``None`` where not set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "ROLES",
    "AnchorCheck",
    "AuditEntry",
    "AuditVerification",
    "Child",
    "Consent",
    "ConsentScope",
    "DeviceRecord",
    "GapRecord",
    "RawChunk",
    "Role",
    "Session",
    "Strategy",
    "StrategyEvent",
    "TokenInfo",
    "User",
]

Role = Literal["admin", "therapist", "parent", "researcher"]
ROLES: tuple[Role, ...] = ("admin", "therapist", "parent", "researcher")
ConsentScope = Literal["features", "features+raw"]


@dataclass(frozen=True, slots=True)
class User:
    """A login. ``password_hash`` is an argon2 PHC string."""

    id: int
    username: str
    role: Role
    disabled: bool
    created_at: int
    password_hash: str = field(repr=False, default="")


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A resolved session cookie or bearer token."""

    user: User
    kind: Literal["session", "bearer"]
    csrf: str | None
    expires_at: int


@dataclass(frozen=True, slots=True)
class Child:
    """A child, by pseudonymous code; ``display_name`` only when asked for."""

    id: int
    code: str
    age_band: str | None
    created_at: int
    display_name: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """A band known to the store, with its current assignment if any."""

    device_id: str
    family: str | None
    label: str | None
    created_at: int
    child_id: int | None = None


@dataclass(frozen=True, slots=True)
class Session:
    """A therapy session or a day of wear."""

    id: int
    child_id: int
    kind: Literal["therapy", "wear"]
    started_at: int
    ended_at: int | None
    device_id: str | None
    created_by: int | None
    note: str


@dataclass(frozen=True, slots=True)
class Strategy:
    """One catalogue entry (product notes §4.2)."""

    key: str
    label: str
    category: str
    systems: tuple[str, ...]
    intended_effect: str
    expected_motion: tuple[str, ...]
    caution: str
    setting: tuple[str, ...]
    active: bool
    custom: bool


@dataclass(frozen=True, slots=True)
class StrategyEvent:
    """A logged strategy use. Never edited in place: see ``voided`` / ``replaces_id``."""

    id: int
    child_id: int
    session_id: int | None
    strategy: str
    started_at: int
    ended_at: int | None
    logged_by: int | None
    logged_at: int
    note: str
    initiated_by: Literal["child", "adult"] | None
    planned: bool | None
    voided: bool
    void_reason: str | None
    voided_by: int | None
    voided_at: int | None
    replaces_id: int | None


@dataclass(frozen=True, slots=True)
class GapRecord:
    """A stored gap of one device."""

    device_id: str
    start_ns: int
    end_ns: int
    samples_missing: int
    reason: str


@dataclass(frozen=True, slots=True)
class RawChunk:
    """One stored raw block: float32 (n, 3) in g, uniformly spaced from ``t0_ns``."""

    device_id: str
    t0_ns: int
    fs_hz: float
    samples: npt.NDArray[np.float32]
    #: device clock of the last sample (ns) and frame sequence number, when known
    device_time_ns: int | None = None
    frame_seq: int | None = None

    @property
    def n(self) -> int:
        """Number of samples."""
        return int(self.samples.shape[0])


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit-log row (NIST AU-3: what, when, who, outcome, which child)."""

    id: int
    ts_ns: int
    actor: str
    action: str
    child_id: int | None
    detail: str
    outcome: str
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class AnchorCheck:
    """One check of :meth:`Store.verify_audit`: ``chain`` (the rows' hash links),
    ``database head`` (HMAC'd count and last hash in ``meta``) or ``head file``
    (``audit-head.log``). ``note`` explains a pass with a remark (e.g. a lagging file)."""

    name: str
    ok: bool
    problem: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class AuditVerification:
    """Result of :meth:`Store.verify_audit`.

    ``entries`` counts the rows verified before the first broken link; ``rows`` is the
    whole log; ``anchors`` holds every check and its result (``problem`` names the first
    failed one).
    """

    ok: bool
    entries: int
    first_bad_id: int | None = None
    problem: str | None = None
    anchors: tuple[AnchorCheck, ...] = ()
    rows: int | None = None


@dataclass(frozen=True, slots=True)
class Consent:
    """One research-use consent record of a child (never edited; withdrawal stamps it).

    ``scope`` ``features`` covers epoch features, movement breaks and strategy events;
    ``features+raw`` also the raw samples. ``recorded_by`` / ``withdrawn_by`` are audit
    actor names.
    """

    id: int
    child_id: int
    consented: bool
    scope: ConsentScope
    recorded_at: int
    recorded_by: str
    withdrawn_at: int | None = None
    withdrawn_by: str | None = None

    @property
    def active(self) -> bool:
        """True while this record grants research use (consented, not withdrawn)."""
        return self.consented and self.withdrawn_at is None

    def covers(self, scope: ConsentScope) -> bool:
        """True when research use of ``scope`` is granted now."""
        return self.active and (scope == "features" or self.scope == "features+raw")

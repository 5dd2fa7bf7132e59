"""Request (``*In``) and response (``*Out``) models of the JSON API.

Times on the wire are ISO 8601 with offset (UTC on output); naive times are refused.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from movereg.storage import Child, Consent, Session, Strategy, StrategyEvent, User
from movereg.timeutil import datetime_from_ns, ns_from_datetime

__all__ = [
    "AssignIn",
    "AuditEntryOut",
    "AuditVerifyOut",
    "BandOut",
    "BandStatusOut",
    "BreakOut",
    "ChildIn",
    "ChildOut",
    "ConnectIn",
    "ConnectOut",
    "ConsentIn",
    "ConsentOut",
    "Day",
    "EpochsOut",
    "ErrorOut",
    "EventCorrectionIn",
    "EventIn",
    "EventOut",
    "GapOut",
    "LinkIn",
    "LoginIn",
    "LoginOut",
    "Password",
    "PasswordChangeIn",
    "ProblemOut",
    "ScanResultOut",
    "SessionIn",
    "SessionOut",
    "StrategyActiveIn",
    "StrategyIn",
    "StrategyOut",
    "StrictIn",
    "SummaryOut",
    "Time",
    "TokenIn",
    "TokenOut",
    "UserIn",
    "UserOut",
    "UserPatchIn",
    "VoidIn",
    "dt",
    "dt_or_none",
    "ns",
]

MAX_ID = 2**53

#: Characters refused in names and text: C0/C1 controls (NUL included) and the Unicode
#: bidirectional controls that can disguise text (e.g. U+202E RIGHT-TO-LEFT OVERRIDE).
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_BAD_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}]")
_BAD_TEXT = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_BIDI}]")  # keeps \t \n \r


def _refusing(bad: re.Pattern[str]) -> AfterValidator:
    """A validator refusing text with a character matched by ``bad`` (422)."""

    def check(value: str) -> str:
        hit = bad.search(value)
        if hit:
            raise ValueError(f"control or bidirectional-override character "
                             f"U+{ord(hit.group()):04X} is not allowed")
        return value

    return AfterValidator(check)


Clean = _refusing(_BAD_LINE)
CleanText = _refusing(_BAD_TEXT)
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80),
                 Clean]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
                   CleanText]
Note = Annotated[str, StringConstraints(max_length=2000), CleanText]
Words = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40),
                  Clean]
#: A password as typed (any characters, at most 1024).
Password = Annotated[str, StringConstraints(min_length=1, max_length=1024)]


#: Times the API accepts: nanosecond timestamps (int64) cover 1677-09-21 to 2262-04-11;
#: whole years inside that span are accepted, anything else is a 422 at the edge.
MIN_TIME = datetime(1678, 1, 1, tzinfo=UTC)
MAX_TIME = datetime(2262, 1, 1, tzinfo=UTC)


def _in_range(value: datetime) -> datetime:
    if not MIN_TIME <= value < MAX_TIME:
        raise ValueError("time out of range: use a time from 1678-01-01 to 2261-12-31 (UTC)")
    return value


def _day_in_range(value: date) -> date:
    if not MIN_TIME.date() < value < MAX_TIME.date() - timedelta(days=1):
        raise ValueError("day out of range: use a day from 1678-01-02 to 2261-12-30")
    return value


#: An aware datetime inside the span of ns timestamps (else 422).
Time = Annotated[AwareDatetime, AfterValidator(_in_range)]
#: A calendar day inside that span, with a day's margin for any time zone (else 422).
Day = Annotated[date, AfterValidator(_day_in_range)]


#: UTC ns <-> aware datetime (:mod:`movereg.timeutil`)
dt = datetime_from_ns
ns = ns_from_datetime


def dt_or_none(value: int | None) -> datetime | None:
    """:func:`dt` of a time that may be missing (UTC ns; None stays None)."""
    return None if value is None else dt(int(value))


class StrictIn(BaseModel):
    """A request body: unknown fields are refused (422)."""

    model_config = ConfigDict(extra="forbid")


# --- auth and users ----------------------------------------------------------------------
class LoginIn(StrictIn):
    username: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    password: Password


class UserOut(BaseModel):
    id: int
    username: str
    role: Literal["admin", "therapist", "parent", "researcher"]
    disabled: bool

    @classmethod
    def of(cls, u: User) -> UserOut:
        return cls(id=u.id, username=u.username, role=u.role, disabled=u.disabled)


class LoginOut(BaseModel):
    user: UserOut
    csrf_token: str = Field(description="also in the movereg_csrf cookie; send as X-CSRF-Token")
    expires_at: datetime


class TokenIn(StrictIn):
    password: Password = Field(
        description="re-enter your password (step-up)")
    ttl_hours: float = Field(default=8.0, gt=0, le=24 * 30)


class TokenOut(BaseModel):
    token: str = Field(description="send as 'Authorization: Bearer <token>'; shown once")
    expires_at: datetime


class PasswordChangeIn(StrictIn):
    current_password: Password
    new_password: Password = Field(
        description="at least 10 characters; a passphrase of several words")


class UserIn(StrictIn):
    username: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.@-]{2,64}$")]
    password: Password
    role: Literal["admin", "therapist", "parent", "researcher"]


class UserPatchIn(StrictIn):
    disabled: bool


class LinkIn(StrictIn):
    child_id: int = Field(ge=1, le=MAX_ID)


# --- children, bands, sessions -------------------------------------------------------------
class ChildIn(StrictIn):
    code: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{3,32}$")] | None = Field(
        default=None, description="pseudonymous code; random when omitted")
    display_name: Name | None = Field(default=None, description="nickname shown on screen")
    age_band: Annotated[str, StringConstraints(max_length=20), Clean] | None = None


class ConsentIn(StrictIn):
    consented: bool = Field(description="the family agreed to research use (false records "
                                        "a refusal)")
    scope: Literal["features", "features+raw"] = Field(
        default="features", description="features: epoch features, movement breaks and "
        "strategy events; features+raw: also the raw acceleration samples")


class ConsentOut(BaseModel):
    id: int
    consented: bool
    scope: Literal["features", "features+raw"]
    recorded_at: datetime
    recorded_by: str
    withdrawn_at: datetime | None
    withdrawn_by: str | None
    active: bool = Field(description="consented and not withdrawn: research use allowed now")

    @classmethod
    def of(cls, c: Consent) -> ConsentOut:
        return cls(id=c.id, consented=c.consented, scope=c.scope, recorded_at=dt(c.recorded_at),
                   recorded_by=c.recorded_by,
                   withdrawn_at=dt_or_none(c.withdrawn_at),
                   withdrawn_by=c.withdrawn_by, active=c.active)


class ChildOut(BaseModel):
    id: int
    code: str
    display_name: str | None
    age_band: str | None
    research_consent: ConsentOut | None = Field(
        default=None, description="the current research-use consent record (none: no "
        "consent, so the child is never in a researcher's export)")

    @classmethod
    def of(cls, c: Child, consent: Consent | None = None) -> ChildOut:
        return cls(id=c.id, code=c.code, display_name=c.display_name, age_band=c.age_band,
                   research_consent=None if consent is None else ConsentOut.of(consent))


class ScanResultOut(BaseModel):
    address: str
    name: str | None = None
    family: str | None = None
    rssi: int | None = None


class ConnectIn(StrictIn):
    target: Annotated[str, StringConstraints(min_length=1, max_length=64), Clean] = Field(
        description="BLE address, or 'sim' / 'sim:<seed>' for a simulated band")
    child_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    session_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class ConnectOut(BaseModel):
    device_id: str


class AssignIn(StrictIn):
    child_id: int = Field(ge=1, le=MAX_ID)


class BandStatusOut(BaseModel):
    device_id: str
    family: str
    state: str
    rate_hz: float | None = None
    battery_pct: int | None = None
    last_data_at: datetime | None = None
    samples_lost: int = 0
    reason: str | None = None


class BandOut(BaseModel):
    device_id: str
    family: str | None
    label: str | None
    child_id: int | None
    status: BandStatusOut | None


class SessionIn(StrictIn):
    child_id: int = Field(ge=1, le=MAX_ID)
    kind: Literal["therapy", "wear"] = "therapy"
    device_id: Annotated[str, StringConstraints(min_length=1, max_length=64), Clean] | None = None
    note: Note = ""


class SessionOut(BaseModel):
    id: int
    child_id: int
    kind: Literal["therapy", "wear"]
    started_at: datetime
    ended_at: datetime | None
    device_id: str | None
    note: str

    @classmethod
    def of(cls, s: Session) -> SessionOut:
        return cls(id=s.id, child_id=s.child_id, kind=s.kind, started_at=dt(s.started_at),
                   ended_at=dt_or_none(s.ended_at), device_id=s.device_id, note=s.note)


# --- strategies and events ---------------------------------------------------------------
Setting = Literal["clinic", "school", "home"]
_ALL_SETTINGS: tuple[Setting, ...] = ("clinic", "school", "home")


class StrategyIn(StrictIn):
    label: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                            max_length=120), Clean]
    category: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                               max_length=60), Clean]
    systems: list[Words] = Field(default_factory=list, max_length=10)
    intended_effect: Words = "varies"
    expected_motion: list[Words] = Field(default_factory=list, max_length=10)
    caution: Annotated[str, StringConstraints(max_length=300), CleanText] = ""
    setting: list[Setting] = Field(default_factory=lambda: list(_ALL_SETTINGS))


class StrategyActiveIn(StrictIn):
    active: bool


class StrategyOut(BaseModel):
    key: str
    label: str
    category: str
    systems: list[str]
    intended_effect: str
    expected_motion: list[str]
    caution: str
    setting: list[str]
    active: bool
    custom: bool

    @classmethod
    def of(cls, s: Strategy) -> StrategyOut:
        return cls(key=s.key, label=s.label, category=s.category, systems=list(s.systems),
                   intended_effect=s.intended_effect, expected_motion=list(s.expected_motion),
                   caution=s.caution, setting=list(s.setting), active=s.active,
                   custom=s.custom)


StrategyKey = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                               max_length=100), Clean]


class EventIn(StrictIn):
    child_id: int = Field(ge=1, le=MAX_ID)
    strategy: StrategyKey = Field(description="catalogue key (e.g. 'mov.break') or custom")
    session_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    started_ago_s: float = Field(default=0.0, ge=0, le=86_400,
                                 description="start this many seconds before the server's now")
    duration_s: float | None = Field(default=None, gt=0, le=86_400,
                                     description="closed span of this length; open if omitted")
    note: Note = ""
    initiated_by: Literal["child", "adult"] | None = None
    planned: bool | None = None


class EventCorrectionIn(StrictIn):
    reason: Reason
    strategy: StrategyKey | None = None
    started_at: Time | None = None
    ended_at: Time | None = None
    note: Note | None = None
    initiated_by: Literal["child", "adult"] | None = None
    planned: bool | None = None


class VoidIn(StrictIn):
    reason: Reason


class EventOut(BaseModel):
    id: int
    child_id: int
    session_id: int | None
    strategy: str
    started_at: datetime
    ended_at: datetime | None
    logged_by: int | None
    logged_at: datetime
    note: str
    initiated_by: Literal["child", "adult"] | None
    planned: bool | None
    voided: bool
    void_reason: str | None
    voided_at: datetime | None
    replaces_id: int | None

    @classmethod
    def of(cls, e: StrategyEvent) -> EventOut:
        return cls(id=e.id, child_id=e.child_id, session_id=e.session_id, strategy=e.strategy,
                   started_at=dt(e.started_at), ended_at=dt_or_none(e.ended_at),
                   logged_by=e.logged_by, logged_at=dt(e.logged_at), note=e.note,
                   initiated_by=e.initiated_by, planned=e.planned, voided=e.voided,
                   void_reason=e.void_reason, voided_at=dt_or_none(e.voided_at),
                   replaces_id=e.replaces_id)


# --- time series -------------------------------------------------------------------------
class EpochsOut(BaseModel):
    child_id: int
    start: datetime | None
    end: datetime | None
    n: int
    epoch_start: list[datetime]
    columns: dict[str, list[float | int | None]] = Field(
        description="feature -> values per epoch (null where undefined); see the data "
                    "dictionary for units")


class GapOut(BaseModel):
    start: datetime
    end: datetime
    duration_s: float
    samples_missing: int
    reason: str = Field(description="disconnect, frame_loss, clock_jump, stall or crash")


class BreakOut(BaseModel):
    start: datetime
    end: datetime
    duration_s: float
    peak_enmo_mg: float | None
    mean_enmo_mg: float | None


class SummaryOut(BaseModel):
    child_id: int
    day: str
    tz: str
    wear_s: float
    zone_s: dict[str, float] = Field(description="seconds of wear per intensity zone")
    breaks: list[BreakOut]
    break_count: int
    strategy_counts: dict[str, int]
    narrative: list[str]
    limits: str


# --- audit ---------------------------------------------------------------------------------
class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    child_id: int | None
    detail: str
    outcome: str


class AuditVerifyOut(BaseModel):
    ok: bool
    entries: int
    first_bad_id: int | None
    problem: str | None


# --- errors ------------------------------------------------------------------------------
class ProblemOut(BaseModel):
    loc: str = Field(description="where, e.g. 'body.child_id' or 'query.from'")
    msg: str


class ErrorOut(BaseModel):
    """Every error answer (4xx/5xx) of the JSON API."""

    detail: str = Field(description="one line saying what is wrong")
    error: str = Field(description="error class, e.g. ValidationError, NotFoundError")
    advice: str | None = Field(default=None, description="what to do about it")
    problems: list[ProblemOut] | None = Field(
        default=None, description="422 only: every invalid field (at most 20)")

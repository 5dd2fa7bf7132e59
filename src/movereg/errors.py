"""One exception tree for movereg.

Every error a user can cause (bad bytes, bad files, bad parameters, bad payloads) is a
subclass of :class:`MoveregError` with data attributes and an actionable message.
Foreign exceptions (bleak, sqlite3, pyarrow, ...) are mapped to these once, at the
boundary where they enter our code.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "BluetoothUnavailableError",
    "ConfigError",
    "ConnectionLostError",
    "DecodeError",
    "DeviceNotFoundError",
    "DiskFullError",
    "ForbiddenError",
    "InputFileError",
    "MoveregError",
    "MoveregWarning",
    "NotFoundError",
    "ParameterError",
    "ProtocolError",
    "SensorError",
    "SignalError",
    "StorageError",
    "ValidationError",
]


class MoveregError(Exception):
    """Root of every error movereg raises on purpose.

    Parameters
    ----------
    message
        What went wrong, in one line.
    advice
        What the user can do about it (optional); appended to ``str(err)``.
    """

    def __init__(self, message: str, *, advice: str | None = None) -> None:
        self.message = message
        self.advice = advice
        super().__init__(message if advice is None else f"{message} ({advice})")


class MoveregWarning(UserWarning):
    """Something worth telling the user that does not stop the work."""


class ConfigError(MoveregError):
    """Settings that cannot work together (e.g. a public bind without users)."""


# --- sensors -------------------------------------------------------------------------
class SensorError(MoveregError):
    """Anything about a wristband or the Bluetooth link."""


class BluetoothUnavailableError(SensorError):
    """No Bluetooth adapter or system Bluetooth service on this machine."""


class DeviceNotFoundError(SensorError):
    """The requested band did not answer a scan in time."""


class ConnectionLostError(SensorError):
    """The link to a band dropped and could not be restored."""


class ProtocolError(SensorError):
    """The band answered a command with an error (e.g. a Polar PMD status code)."""

    def __init__(self, message: str, *, family: str, code: int | None = None,
                 advice: str | None = None) -> None:
        self.family = family
        self.code = code
        super().__init__(message, advice=advice)


class DecodeError(SensorError):
    """Bytes from a band that do not follow the family's published layout.

    Attributes
    ----------
    family
        Device family key, e.g. ``"polar_pmd"``.
    length
        Length of the frame in bytes.
    offset
        Byte offset at which decoding failed.
    """

    def __init__(self, message: str, *, family: str, length: int, offset: int) -> None:
        self.family = family
        self.length = length
        self.offset = offset
        super().__init__(f"{family}: {message} (frame length {length} B, at offset {offset})")


# --- signal --------------------------------------------------------------------------
class SignalError(MoveregError):
    """The signal core cannot compute features from this input."""


class ParameterError(SignalError, ValueError):
    """A parameter (rate, epoch length, threshold, array shape) is out of range."""


class InputFileError(SignalError):
    """A recording file that cannot be read: names the file and the problem."""

    def __init__(self, path: str, problem: str, *, line: int | None = None) -> None:
        self.path = path
        self.problem = problem
        self.line = line
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {problem}")


# --- storage and service -------------------------------------------------------------
class StorageError(MoveregError):
    """The database cannot be read or written (disk full, corrupt file, locked)."""


class DiskFullError(StorageError):
    """The disk holding the data directory is full (HTTP 507 where a request needs space)."""


class ValidationError(MoveregError, ValueError):
    """A request payload that does not make sense (maps to HTTP 422/400)."""


class NotFoundError(MoveregError):
    """A record that does not exist, or that the caller may not know exists (HTTP 404)."""


class AuthError(MoveregError):
    """Not logged in, or bad credentials (HTTP 401)."""


class ForbiddenError(AuthError):
    """Logged in but not allowed (HTTP 403)."""

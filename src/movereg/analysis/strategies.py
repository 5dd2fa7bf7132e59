"""The default strategy catalogue (product notes §4.2).

One source of truth: the YAML that storage seeds its database from,
``movereg/storage/strategies_default.yaml`` (:func:`catalogue_path`). This module parses
and validates it into :class:`Strategy` records for the analysis and the pages (a clinic's
edited copy lives in the database). ``intended_effect`` records what a clinician
*intends*, never an outcome; ``expected_motion`` is a signal-quality hint only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Final

import yaml

from movereg.errors import ValidationError

__all__ = [
    "EXPECTED_MOTIONS",
    "INTENDED_EFFECTS",
    "SETTINGS",
    "Strategy",
    "catalogue_path",
    "default_catalogue",
    "load_catalogue",
    "strategy_label",
]

INTENDED_EFFECTS: Final[frozenset[str]] = frozenset({"alerting", "calming", "organizing", "varies"})
EXPECTED_MOTIONS: Final[frozenset[str]] = frozenset(
    {"still", "low", "hand", "moderate", "high", "rhythmic", "impacts", "repeated",
     "continuous", "varies"})
SETTINGS: Final[frozenset[str]] = frozenset({"clinic", "school", "home"})
_FIELDS: Final[tuple[str, ...]] = (
    "id", "label", "category", "systems", "intended_effect", "expected_motion", "caution",
    "setting")


@dataclass(frozen=True)
class Strategy:
    """One catalogue entry.

    Attributes
    ----------
    id
        Stable key such as ``"mov.break"`` (stored on each logged event).
    label
        Words shown on buttons and in summaries.
    category
        Group heading, e.g. ``"Heavy work"``.
    systems
        Sensory systems addressed.
    intended_effect
        What the clinician intends (alerting / calming / organizing / varies).
    expected_motion
        Movement the strategy itself produces (used to mark "strategy movement").
    caution
        Shown when logging, or ``None``.
    setting
        Where it is used (clinic / school / home).
    """

    id: str
    label: str
    category: str
    systems: tuple[str, ...]
    intended_effect: tuple[str, ...]
    expected_motion: tuple[str, ...]
    caution: str | None
    setting: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (lists for the tuple fields)."""
        return {
            "id": self.id, "label": self.label, "category": self.category,
            "systems": list(self.systems), "intended_effect": list(self.intended_effect),
            "expected_motion": list(self.expected_motion), "caution": self.caution,
            "setting": list(self.setting),
        }


def catalogue_path() -> Path:
    """Path of the packaged default catalogue YAML (storage's seed file)."""
    return Path(str(resources.files("movereg.storage").joinpath("strategies_default.yaml")))


def _strs(entry: Mapping[str, Any], key: str, allowed: frozenset[str] | None) -> tuple[str, ...]:
    value = entry.get(key)
    if isinstance(value, str):  # "alerting/organizing", "calming (varies)"
        value = re.findall(r"[a-z]+", value.lower())
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError(f"strategy {entry.get('id')!r}: {key} must be a list of strings")
    if allowed is not None:
        bad = sorted(set(value) - allowed)
        if bad:
            raise ValidationError(f"strategy {entry.get('id')!r}: unknown {key} {bad}")
    return tuple(value)


def _parse(entries: Iterable[Any]) -> tuple[Strategy, ...]:
    out: list[Strategy] = []
    seen: set[str] = set()
    for entry in entries:
        if not isinstance(entry, Mapping):
            raise ValidationError("strategy catalogue: each entry must be a mapping")
        missing = [f for f in _FIELDS if f not in entry]
        if missing:
            raise ValidationError(f"strategy {entry.get('id')!r}: missing fields {missing}")
        sid, label, category = entry["id"], entry["label"], entry["category"]
        if not all(isinstance(v, str) and v for v in (sid, label, category)):
            raise ValidationError(f"strategy {sid!r}: id, label, category must be text")
        if sid in seen:
            raise ValidationError(f"strategy catalogue: duplicate id {sid!r}")
        seen.add(sid)
        caution = entry["caution"]
        if caution is not None and not isinstance(caution, str):
            raise ValidationError(f"strategy {sid!r}: caution must be text or null")
        caution = caution or None
        out.append(Strategy(
            id=sid, label=label, category=category,
            systems=_strs(entry, "systems", None),
            intended_effect=_strs(entry, "intended_effect", INTENDED_EFFECTS),
            expected_motion=_strs(entry, "expected_motion", EXPECTED_MOTIONS),
            caution=caution,
            setting=_strs(entry, "setting", SETTINGS),
        ))
    return tuple(out)


def load_catalogue(path: str | Path | None = None) -> tuple[Strategy, ...]:
    """Read and validate a strategy catalogue YAML (default: the packaged one).

    Raises
    ------
    ValidationError
        A field is missing, has the wrong type or an unknown value, or an id repeats.
    """
    source = Path(path) if path is not None else catalogue_path()
    try:
        doc = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValidationError(f"cannot read strategy catalogue {source}: {exc}") from exc
    if not isinstance(doc, Mapping) or not isinstance(doc.get("strategies"), list):
        raise ValidationError(f"{source}: expected a mapping with a 'strategies' list")
    return _parse(doc["strategies"])


@lru_cache(maxsize=1)
def default_catalogue() -> tuple[Strategy, ...]:
    """The packaged catalogue (parsed once, immutable)."""
    return load_catalogue()


def strategy_label(strategy_id: str, catalogue: Iterable[Strategy] | None = None) -> str:
    """Words for a strategy key; a custom (non-catalogue) key is shown as written."""
    for s in catalogue if catalogue is not None else default_catalogue():
        if s.id == strategy_id:
            return s.label
    return strategy_id

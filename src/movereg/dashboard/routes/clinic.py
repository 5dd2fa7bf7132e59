"""Clinic-day API the pages need beyond the resource routers: pinned favourites, account
changes from the admin pages, and band motion for "shake the band you hold"."""

from __future__ import annotations

import math
import time
from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field, StringConstraints

from movereg.dashboard.auth import hash_password
from movereg.dashboard.deps import Admin, Clinician, StoreDep, check_child
from movereg.dashboard.routes._common import ChildId
from movereg.dashboard.routes.users import user_named
from movereg.dashboard.schemas import Password, StrictIn, UserOut
from movereg.storage import Store
from movereg.timeutil import NS_PER_S

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["clinic"])
_MOTION_WINDOW_S = 20.0
_MOVING_MG = 60.0       # mean ENMO above this in the latest epochs: "this band is moving"


class FavouritesIn(StrictIn):
    keys: list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] = Field(
        max_length=12, description="strategy keys in the order the buttons show")


class FavouriteOut(BaseModel):
    key: str
    label: str


class RoleIn(StrictIn):
    role: Literal["admin", "therapist", "parent", "researcher"]


class PasswordIn(StrictIn):
    password: Password


class MotionOut(BaseModel):
    device_id: str
    enmo_mg: float | None = Field(description="mean ENMO of the latest stored epochs, mg")
    moving: bool = Field(description="clearly moving now (shake to identify)")


def favourite_items(store: Store, child_id: int) -> list[FavouriteOut]:
    """A child's pinned strategies with labels, in the therapist's order."""
    labels = {s.key: s.label for s in store.list_strategies(include_inactive=True)}
    return [FavouriteOut(key=k, label=labels.get(k, k)) for k in store.favourites(child_id)]


@router.get("/children/{child_id}/favourites", operation_id="get_favourites",
            response_model=list[FavouriteOut])
def get_favourites(child_id: ChildId, store: StoreDep, principal: Clinician
                   ) -> list[FavouriteOut]:
    """The child's pinned strategy buttons, in the order set (never reordered by use)."""
    check_child(store, principal, child_id)
    store.audit(principal.actor, "read.favourites", child_id=child_id)
    return favourite_items(store, child_id)


@router.put("/children/{child_id}/favourites", operation_id="set_favourites",
            response_model=list[FavouriteOut])
def set_favourites(child_id: ChildId, body: FavouritesIn, store: StoreDep,
                   principal: Clinician) -> list[FavouriteOut]:
    """Pin strategies for a child in this order (replaces the list)."""
    check_child(store, principal, child_id)
    store.set_favourites(child_id, list(body.keys))
    store.audit(principal.actor, "child.favourites", child_id=child_id,
                detail={"keys": list(body.keys)})
    return favourite_items(store, child_id)


@router.post("/admin/users/{username}/role", operation_id="set_user_role",
             response_model=UserOut)
def set_user_role(username: str, body: RoleIn, store: StoreDep, admin: Admin) -> UserOut:
    """Change a role; the user's sessions end at once (they sign in again)."""
    u = store.set_user_role(user_named(store, username).id, body.role)
    store.audit(admin.actor, "user.role", detail={"user": username, "role": body.role})
    return UserOut.of(u)


@router.post("/admin/users/{username}/password", operation_id="reset_user_password",
             response_model=UserOut)
def reset_user_password(username: str, body: PasswordIn, store: StoreDep,
                        admin: Admin) -> UserOut:
    """Set a new password (>= 10 characters); the user's sessions end at once."""
    u = store.set_user_password(user_named(store, username).id, hash_password(body.password))
    store.audit(admin.actor, "user.password_reset", detail={"user": username})
    return UserOut.of(u)


def band_motion(store: Store, device_ids: list[str]) -> list[MotionOut]:
    """Latest stored movement per band (about 7 s behind: epochs need look-ahead)."""
    now = time.time_ns()
    out = []
    for d in device_ids:
        cols = store.epochs(device_id=d, start_ns=now - int(_MOTION_WINDOW_S * NS_PER_S),
                            end_ns=now, features=["enmo_mg"])
        e = cols["enmo_mg"][-5:]
        e = e[[math.isfinite(v) for v in e]] if e.size else e
        mean = float(e.mean()) if e.size else None
        out.append(MotionOut(device_id=d, enmo_mg=None if mean is None else round(mean, 1),
                             moving=mean is not None and mean >= _MOVING_MG))
    return out


@router.get("/clinic/bands/motion", operation_id="band_motion", response_model=list[MotionOut])
def get_band_motion(store: StoreDep, principal: Clinician) -> list[MotionOut]:
    """Which known bands are moving now: shake the band you hold and watch its tile."""
    return band_motion(store, [d.device_id for d in store.list_devices()])

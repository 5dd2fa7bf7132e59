"""First run: the one-time setup link creates the first administrator.

``movereg serve`` on a data directory without an administrator prints one URL carrying a
one-time token (as Jupyter does). Only its sha256 is stored. The token is valid until an
administrator exists; using it creates that administrator (audit-logged) and kills the
token. There is no default password anywhere. The form page is in
:mod:`movereg.dashboard.clinic_pages` (it also signs the new administrator in).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field, StringConstraints

from movereg.dashboard.auth import hash_password
from movereg.dashboard.deps import StoreDep
from movereg.dashboard.schemas import Password, UserOut
from movereg.storage import Store, User

__all__ = ["api_router", "finish_setup"]

api_router = APIRouter(prefix="/api/setup", tags=["setup"])

Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.@-]{2,64}$")]


class SetupIn(BaseModel):
    token: Annotated[str, StringConstraints(min_length=8, max_length=200)]
    username: Username
    password: Password


class SetupStateOut(BaseModel):
    pending: bool = Field(description="true until an administrator exists")


def finish_setup(store: Store, token: str, username: str, password: str) -> User:
    """Check and kill ``token``, create the administrator, audit it (one transaction)."""
    pw_hash = hash_password(password)            # strength check before the token is spent
    with store.transaction("cannot finish setup"):
        store.use_setup_token(token)
        user = store.create_user(username, pw_hash, "admin")
        store.audit(f"{username}(admin)", "setup.admin", detail={"user_id": user.id})
    return user


@api_router.get("", operation_id="setup_state", response_model=SetupStateOut)
def setup_state(store: StoreDep) -> SetupStateOut:
    """Whether the first-run setup is still open."""
    return SetupStateOut(pending=store.setup_pending())


@api_router.post("", operation_id="setup_admin", response_model=UserOut, status_code=201)
def setup_admin(body: SetupIn, store: StoreDep) -> UserOut:
    """Create the first administrator with the one-time token (401 once it is used)."""
    return UserOut.of(finish_setup(store, body.token, body.username, body.password))

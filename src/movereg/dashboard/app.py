"""The FastAPI application factory (no import-time settings, stores or hubs)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection

from movereg import __version__
from movereg.config import Settings
from movereg.errors import (
    AuthError,
    ConfigError,
    DeviceNotFoundError,
    DiskFullError,
    ForbiddenError,
    MoveregError,
    NotFoundError,
    SensorError,
    StorageError,
)
from movereg.pipeline.retention import RawRetention, apply_retention
from movereg.storage import Store

if TYPE_CHECKING:
    from movereg.pipeline.hub import Hub

__all__ = ["apply_retention", "check_bind", "create_app"]

log = logging.getLogger(__name__)

#: API answers are never rendered. Pages load scripts only from this server (no inline
#: scripts, no eval: the browser tests render Plotly under this policy), nothing from
#: another origin (no CDN, no analytics); Plotly needs inline styles.
_CSP_API = "default-src 'none'; frame-ancestors 'none'"
_CSP_PAGES = ("default-src 'self'; script-src 'self'; "
              "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
              "connect-src 'self'; font-src 'self' data:; object-src 'none'; "
              "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


def _is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(settings: Settings, store: Store) -> None:
    """Refuse a non-loopback bind while no user exists (raises :class:`ConfigError`)."""
    if _is_loopback(settings.host) or settings.demo:
        return
    if store.count_users() == 0:
        raise ConfigError(
            f"refusing to listen on {settings.host}: no users are configured, so anyone on "
            "the network could reach children's data",
            advice="create an admin first: movereg user add NAME --role admin "
                   f"--data-dir {settings.data_dir}")


def _status_for(exc: MoveregError) -> int:
    if isinstance(exc, ForbiddenError):
        return 403
    if isinstance(exc, AuthError):
        return 401
    if isinstance(exc, NotFoundError | DeviceNotFoundError):
        return 404
    if isinstance(exc, DiskFullError):
        return 507
    if isinstance(exc, StorageError | SensorError):   # the database or the radio (#21)
        return 503
    return 422   # ValidationError, ParameterError and the rest: the request as sent


async def _movereg_error(request: HTTPConnection, exc: Exception) -> Response | None:
    """One JSON body per error; on a WebSocket (no response to send) close it instead."""
    assert isinstance(exc, MoveregError)
    status = _status_for(exc)
    method = request.scope.get("method", "WEBSOCKET")
    if status >= 500:
        log.warning("storage error on %s %s: %s", method, request.url.path, exc)
    if isinstance(request, WebSocket):
        # 1013 "try again later" for storage trouble, 1008 policy for refusals
        code = 1013 if status >= 500 else 1008
        with contextlib.suppress(RuntimeError):
            await request.close(code=code, reason=exc.message[:120])
        return None
    body: dict[str, Any] = {"detail": exc.message, "error": type(exc).__name__}
    if exc.advice:
        body["advice"] = exc.advice
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette/FastAPI HTTPExceptions in the same shape as every other error."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:   # FastAPI: a body that is not UTF-8 JSON / form data
        return JSONResponse({"detail": f"body: {exc.detail}", "error": "ValidationError",
                             "advice": "send UTF-8 JSON as documented"}, status_code=422)
    names = {401: "AuthError", 403: "ForbiddenError", 404: "NotFoundError",
             405: "MethodNotAllowed", 413: "PayloadTooLarge", 429: "TooManyRequests",
             503: "Unavailable"}
    return JSONResponse({"detail": str(exc.detail),
                         "error": names.get(exc.status_code, "HTTPError")},
                        status_code=exc.status_code, headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for err in exc.errors()[:20]:
        where = ".".join(str(p) for p in err.get("loc", ()))
        problems.append({"loc": where, "msg": str(err.get("msg", "invalid"))})
    first = problems[0] if problems else {"loc": "", "msg": "invalid request"}
    return JSONResponse({"detail": f"{first['loc']}: {first['msg']}", "error": "ValidationError",
                         "problems": problems}, status_code=422)


async def _security_headers(request: Request,
                            call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """CSP and the other security headers on every answer; the first answer sets
    ``app.state.first_response`` (background work may begin)."""
    response = await call_next(request)
    api = request.url.path.startswith("/api/")
    response.headers.setdefault("Content-Security-Policy", _CSP_API if api else _CSP_PAGES)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if api:
        response.headers.setdefault("Cache-Control", "no-store")
    first = request.app.state.first_response
    if not first.is_set():
        # after this response's start has gone out: background work may begin
        asyncio.get_running_loop().call_later(0.05, first.set)
    return response


def _routers() -> list[APIRouter]:
    """The JSON API, the live WebSocket and the pages, in the order they match
    (imported here, when an app is built)."""
    from movereg.dashboard import account, clinic_pages, family_pages, import_page, pages
    from movereg.dashboard.routes import api_routers
    from movereg.dashboard.routes.live import router as live

    # account: the change-password page (#21)
    return [*api_routers(), live, family_pages.router, pages.router, clinic_pages.router,
            account.router, import_page.router]


def create_app(settings: Settings, *, hub: Hub | None = None,
               store: Store | None = None,
               raw_retention: RawRetention | None = None) -> FastAPI:
    """Build the movereg web app.

    Parameters
    ----------
    settings
        Runtime settings (data directory, bind address, cookie security, ...).
    hub
        A pipeline hub to use instead of creating ``movereg.pipeline.Hub(store, settings)``.
        An injected hub is used as is: its owner starts and stops it.
    store
        An open :class:`Store` to use (its owner closes it); by default the lifespan opens
        ``settings.db_path`` and closes it on shutdown.
    raw_retention
        The raw-sample purge to run instead of ``RawRetention(settings)`` (at start-up,
        then hourly); the app starts it on its store and stops it on shutdown either way.

    Returns
    -------
    FastAPI
        The app; state lives in ``app.state`` (``settings``, ``store``, ``hub``,
        ``raw_retention``, ...).
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_store = store is None
        st = await asyncio.to_thread(Store, settings.db_path) if store is None else store
        own_hub = False
        try:
            check_bind(settings, st)
            # raw samples past the retention go before the first page, then hourly
            app.state.raw_retention = (RawRetention(settings) if raw_retention is None
                                       else raw_retention)
            await app.state.raw_retention.start(st)
            app.state.store = st
            the_hub = hub
            from movereg.pipeline.band_links import BandLinks
            from movereg.sensors.metawear_logging_clock import use_clock_book

            links = BandLinks()   # bands that record on their own (#23)
            # MetaWear boards have no wall clock: keep their tick references on disk
            use_clock_book(settings.data_dir / "metawear-clock.json")
            if the_hub is None:
                from movereg.pipeline import Hub

                the_hub = Hub(st, settings, band_factory=links.band_factory)
                # the kernels compile once the first page is out (#14: first page <= 3 s)
                the_hub.warm_after(app.state.first_response, max_wait_s=5.0)
                await the_hub.start()
                own_hub = True
            app.state.hub = the_hub
            from movereg.pipeline.band_sync import BandSync

            app.state.band_sync = BandSync(st, settings, links, alerts=the_hub if hasattr(
                the_hub, "raise_alert") else None, live=the_hub)
            await app.state.band_sync.start()
            from movereg.dashboard.import_jobs import ImportJobs

            app.state.import_jobs = ImportJobs(st, settings)
            app.state.import_jobs.resume()  # imports a stopped or killed server left
            yield
        finally:
            refused = getattr(app.state, "refused_logins", None)
            if refused is not None:   # counts of refused logins not yet written
                with contextlib.suppress(MoveregError):
                    await asyncio.to_thread(refused.flush, st, force=True)
            try:
                if getattr(app.state, "raw_retention", None) is not None:
                    await app.state.raw_retention.stop()
                if getattr(app.state, "band_sync", None) is not None:
                    await app.state.band_sync.stop()
                if getattr(app.state, "import_jobs", None) is not None:
                    await app.state.import_jobs.stop()
                if own_hub:
                    await app.state.hub.stop()
            finally:
                if own_store:
                    await asyncio.to_thread(st.close)

    app = FastAPI(title="movereg", version=__version__, lifespan=lifespan,
                  description="Wearable movement-sensor regulation monitor. Describes "
                              "movement; not a medical device.")
    app.state.settings = settings
    app.state.hub = None
    app.state.first_response = asyncio.Event()   # set once the first response is out
    # one handler for HTTP and WebSocket scopes (Starlette types them separately)
    app.add_exception_handler(MoveregError, _movereg_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    from movereg.dashboard.openapi import install_openapi

    install_openapi(app)   # 422 as really sent; 401/403/404/413/429 documented (#21)

    app.middleware("http")(_security_headers)
    from movereg.dashboard.limits import BodyLimit

    app.add_middleware(BodyLimit, default_bytes=settings.max_json_body_bytes,  # #21: 413
                       upload_bytes=settings.max_upload_body_bytes)
    for router in _routers():
        app.include_router(router)
    static = Path(__file__).with_name("static")
    if static.is_dir():
        app.mount("/static", StaticFiles(directory=static), name="static")
    return app

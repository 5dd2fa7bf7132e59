"""schemathesis against the app's own OpenAPI, for each role (issue #21).

Stateless: every operation, positive (schema-valid) and negative (schema-violating)
cases, as admin, therapist, parent, researcher and anonymous. Stateful: schemathesis's
state machine over the links of the document, per role. Every response must not be a
server error and must conform to the document (status documented, content type, body
schema). The numbers of operations and requests per role are printed (``-s``) and
checked.

Bounded: ``MOVEREG_FUZZ_EXAMPLES`` examples per operation and mode (default 8) and
``MOVEREG_FUZZ_SCENARIOS`` stateful scenarios of 8 steps per role (default 10);
deterministic (derandomized, no example database). Raise both for a deeper run.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from h5_api_support import Api, make_api
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from security_support import enable_live

schemathesis = pytest.importorskip("schemathesis")
pytestmark = pytest.mark.slow   # a few minutes; still run by `make test` and CI

from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

ROLES = ("admin", "therapist", "parent", "researcher", "anonymous")
EXAMPLES = int(os.environ.get("MOVEREG_FUZZ_EXAMPLES", "8"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                     phases=[Phase.explicit, Phase.generate],
                     suppress_health_check=list(HealthCheck))


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    for a in make_api(tmp_path, monkeypatch):
        enable_live(a.hub, a.settings)
        yield a


def _auth(api: Api, role: str) -> dict[str, str]:
    if role == "anonymous":
        return {}
    user = api.store.find_user(api.role_user[role])
    assert user is not None
    return {"Authorization": f"Bearer {api.store.create_token(user.id, 'bearer', 600)[0]}"}


def _schema(api: Api) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return schemathesis.openapi.from_asgi("/openapi.json", api.client.app)


def test_stateless_fuzz_every_role(api: Api) -> None:
    """Each generated case is sent once per role (generation is the slow part)."""
    schema = _schema(api)
    statuses: dict[str, Counter[int]] = {r: Counter() for r in ROLES}
    ops = 0
    for result in schema.get_all_operations():
        op = result.ok()
        ops += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @_SETTINGS
            @given(case=op.as_strategy(generation_mode=mode))
            def run(case: Any) -> None:
                for role in ROLES:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        response = case.call(headers=_auth(api, role))
                    statuses[role][response.status_code] += 1
                    case.validate_response(response, checks=CHECKS)

            try:
                run()
            except Unsatisfiable:   # nothing to violate (e.g. no parameters, no body)
                assert mode == GenerationMode.NEGATIVE, op.label
    for role in ROLES:
        n = sum(statuses[role].values())
        print(f"\nschemathesis stateless {role}: {ops} operations, {n} requests, 0 5xx, "
              f"0 schema mismatches; statuses {dict(sorted(statuses[role].items()))}")
        assert n >= ops and not any(s >= 500 for s in statuses[role])
    doc = api.client.get("/openapi.json").json()
    assert ops == sum(len(item) for item in doc["paths"].values())   # every operation


#: Stateful: scenarios per role and steps per scenario (MOVEREG_FUZZ_SCENARIOS).
SCENARIOS = int(os.environ.get("MOVEREG_FUZZ_SCENARIOS", "10"))


@pytest.mark.parametrize("role", ROLES)
def test_stateful_fuzz(api: Api, role: str) -> None:
    """schemathesis's state machine over the links it infers between operations (a
    child created, then read, a session started then stopped, ...), as one role."""
    schema = _schema(api)
    statuses: Counter[int] = Counter()
    ops: set[str] = set()

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": _auth(api, role)}

        def call(self, case: Any, **kwargs: Any) -> Any:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return case.call(**kwargs)

        def after_call(self, response: Any, case: Any) -> None:
            statuses[response.status_code] += 1
            ops.add(case.operation.label)

        def validate_response(self, response: Any, case: Any,
                              additional_checks: Any = None, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS)

    Workflow.run(settings=settings(max_examples=SCENARIOS, stateful_step_count=8,
                                   deadline=None, derandomize=True, database=None,
                                   phases=[Phase.generate],
                                   suppress_health_check=list(HealthCheck)))
    n = sum(statuses.values())
    print(f"\nschemathesis stateful {role}: {len(ops)} operations, {n} requests, 0 5xx, "
          f"0 schema mismatches; statuses {dict(sorted(statuses.items()))}")
    assert n > 0 and not any(s >= 500 for s in statuses)

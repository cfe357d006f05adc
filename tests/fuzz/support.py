"""What every fuzz target shares: how many cases, hypothesis settings, kits and callers.

`FUZZ_EXAMPLES` (default 50) is the number of cases per target: the quick slice of the normal
run, or the long run (`FUZZ_EXAMPLES=10000`). Targets share one store and one kit across
their cases, as a service shares its store across requests.
"""

import asyncio
import os
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.database import DirectoryBasedExampleDatabase

from ensemble_devkit.synthetic import test_nhs_numbers
from ensemble_devkit.testkit import ServiceKit, token, tokens
from ensemble_runtime.definition import ServiceDefinition

from .report import FUZZ_DIR, Stats, shrink_on_failure

# Hypothesis keeps its caches under run/fuzz, not in a `.hypothesis` of the working directory.
set_hypothesis_home_dir(FUZZ_DIR / "hypothesis-home")

T = TypeVar("T")
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "50"))

# Callers every kit knows, by kind: principal names as tokens(...) makes them.
CALLERS: dict[str, tuple[str, ...]] = {
    "sender": ("RCB", "RVJ"),
    "practice": ("L85001", "L85002"),
    "staff": ("staff",),
}
PRACTICES = CALLERS["practice"]

# Patients: valid NHS numbers from the 999 test range (never issued), and one that is ten
# digits but fails the check digit.
NHS_POOL = tuple(n for _, n in zip(range(6), test_nhs_numbers(start=4242), strict=False))
BAD_CHECK_DIGIT = NHS_POOL[0][:9] + str((int(NHS_POOL[0][9]) + 1) % 10)


def fuzz_settings(examples: int | None = None) -> settings:
    """Cases per target from FUZZ_EXAMPLES; no deadline (the report times each case).

    Without FUZZ_SHRINK a target counts violations over every case and fails at its end, so
    the report has real figures; with FUZZ_SHRINK=1 it fails at the first, shrunk by
    hypothesis (failing examples are kept in run/fuzz/hypothesis and tried first next time).
    """
    phases = [Phase.explicit, Phase.reuse, Phase.generate]
    if shrink_on_failure():
        phases.append(Phase.shrink)
    return settings(
        max_examples=examples or EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=DirectoryBasedExampleDatabase(FUZZ_DIR / "hypothesis"),
        phases=phases,
        print_blob=True,
    )


def timeout_for(examples: int | None = None, per_case: float = 0.25) -> pytest.MarkDecorator:
    """pytest-timeout for a target: the 300 s default, or more for a long run."""
    return pytest.mark.timeout(max(300, int((examples or EXAMPLES) * per_case) + 120))


def store_of(database_url: str) -> str:
    return "postgresql" if database_url.startswith("postgresql") else "sqlite"


def caller_settings(definition: ServiceDefinition[Any, Any]) -> dict[str, str]:
    """A `<kind>_tokens` setting for every kind of caller the service has."""
    kinds = [f.removesuffix("_tokens") for f in definition.settings.model_fields]
    return {
        f"{kind}_tokens": tokens(kind, *CALLERS[kind])
        for kind in kinds
        if kind in CALLERS and f"{kind}_tokens" in definition.settings.model_fields
    }


def kit_for(
    definition: ServiceDefinition[Any, Any], database_url: str, **settings: Any
) -> ServiceKit[Any, Any]:
    return ServiceKit(definition, database_url, **(caller_settings(definition) | settings))


@contextmanager
def fuzz_target(
    name: str, definition: ServiceDefinition[Any, Any], database_url: str, **settings: Any
) -> Iterator[tuple[ServiceKit[Any, Any], Stats]]:
    """A target's kit on its store and its figures: saved whatever happens, checked after."""
    kit = kit_for(definition, database_url, **settings)
    stats = Stats(name, store_of(database_url), fuzz_settings().max_examples)
    try:
        yield kit, stats
    finally:
        kit.dispose()
        stats.save()
    stats.check()


def bearer(kind: str, principal: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(kind, principal)}"}


class Loop:
    """One event loop for a whole target: listeners and clients outlive a single case."""

    def __init__(self) -> None:
        self._runner = asyncio.Runner(loop_factory=asyncio.new_event_loop)

    def run(self, work: Callable[[], Coroutine[Any, Any, T]] | Coroutine[Any, Any, T]) -> T:
        return self._runner.run(work() if callable(work) else work)

    def close(self) -> None:
        self._runner.close()

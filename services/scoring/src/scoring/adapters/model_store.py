"""Which risk model is active, and the model files that were activated, in scoring's store.

The active model is the newest activation's. Every rescore asks (one indexed read; an
encounter's rescore reads it with the patient's inputs, rescore_reads.py), so a model
activated by the admin CLI from another process is used by the next event the service scores;
each model is parsed once per process (keyed by the digest of its text). A store that never
activated one scores with the packaged default.
"""

from datetime import datetime
from typing import Final, NamedTuple, cast

from sqlalchemy import Table, insert, select
from sqlmodel import Session

from ensemble_runtime.db import core_sql
from ensemble_runtime.prepared import Prepared
from scoring.adapters.orm import ModelActivation, RiskModelRecord
from scoring.adapters.packaged_models import packaged_model
from scoring.domain.model import RiskModel
from scoring.domain.model_file import read_model

MODELS = cast(Table, RiskModelRecord.__table__)  # type: ignore[attr-defined]
ACTIVATIONS = cast(Table, ModelActivation.__table__)  # type: ignore[attr-defined]
# The newest activation's version and digest. An encounter's rescore reads it with its inputs
# (rescore_reads.py); the others ask `active()`: prepared (ADR 7). The limit is a bound
# parameter, so no literal.
ACTIVE_ROW: Final = (
    select(ACTIVATIONS.c.version, MODELS.c.digest)
    .join(MODELS, MODELS.c.version == ACTIVATIONS.c.version)
    .order_by(ACTIVATIONS.c.id.desc())
    .limit(1)
)
_ACTIVE: Final = Prepared(ACTIVE_ROW)
_PARSED: dict[str, RiskModel] = {}  # digest -> model, for this process
# The model this process last found active: the window a rescore reads its inputs for before
# the same read says which model is active (read again in the rare case the window differs).
_LAST_ACTIVE: list[RiskModel] = []


class StoredModel(NamedTuple):
    version: str
    digest: str
    stored_at: datetime


class Activation(NamedTuple):
    version: str
    activated_at: datetime
    activated_by: str


class ModelRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def active_version(self) -> str | None:
        """The version of the newest activation; None when the store never activated one."""
        row = _ACTIVE.execute(self._session).first()
        return None if row is None else str(row[0])

    def active(self) -> RiskModel:
        row = _ACTIVE.execute(self._session).first()
        return self.active_of(*row) if row is not None else self.active_of(None, None)

    def active_of(self, version: str | None, digest: str | None) -> RiskModel:
        """The model the newest activation (its version and digest; None: the store never
        activated one, the packaged default) names, parsed once per process."""
        if version is None or digest is None:
            model = packaged_model()
        else:
            found = _PARSED.get(digest) or self.stored(version)
            assert found is not None  # the activation's join found it
            model = found
        _LAST_ACTIVE[:] = [model]
        return model

    @staticmethod
    def last_active() -> RiskModel:
        """The model this process last found active (no read): a guess, to be checked."""
        return _LAST_ACTIVE[0] if _LAST_ACTIVE else packaged_model()

    def stored(self, version: str) -> RiskModel | None:
        """A stored model by version (parsed once per process), or None."""
        row = (
            core_sql(self._session)
            .execute(select(MODELS.c.source, MODELS.c.digest).where(MODELS.c.version == version))
            .first()
        )
        if row is None:
            return None
        if row.digest not in _PARSED:
            _PARSED[row.digest] = read_model(row.source)
        return _PARSED[row.digest]

    def digest_of(self, version: str) -> str | None:
        found = core_sql(self._session).execute(
            select(MODELS.c.digest).where(MODELS.c.version == version)
        )
        return cast(str | None, found.scalar())

    def store(self, model: RiskModel, source: str, at: datetime) -> None:
        """Keep a model file's text under its version (the caller checked it is new)."""
        core_sql(self._session).execute(
            insert(MODELS),
            {"version": model.version, "source": source, "digest": model.digest, "stored_at": at},
        )
        _PARSED[model.digest] = model

    def activate(self, version: str, at: datetime, by: str) -> None:
        core_sql(self._session).execute(
            insert(ACTIVATIONS), {"version": version, "activated_at": at, "activated_by": by}
        )

    def models(self) -> list[StoredModel]:
        rows = core_sql(self._session).execute(
            select(MODELS.c.version, MODELS.c.digest, MODELS.c.stored_at).order_by(
                MODELS.c.stored_at
            )
        )
        return [StoredModel._make(row) for row in rows]

    def activations(self) -> list[Activation]:
        rows = core_sql(self._session).execute(
            select(
                ACTIVATIONS.c.version, ACTIVATIONS.c.activated_at, ACTIVATIONS.c.activated_by
            ).order_by(ACTIVATIONS.c.id)
        )
        return [Activation._make(row) for row in rows]

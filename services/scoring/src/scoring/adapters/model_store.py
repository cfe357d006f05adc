"""Which risk model is active, and the model files that were activated, in scoring's store.

The active model is the newest activation's. Every rescore asks (one indexed read), so a model
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
# Read by every rescore: prepared (ADR 7). The limit is a bound parameter, so no literal.
_ACTIVE: Final = Prepared(
    select(ACTIVATIONS.c.version, MODELS.c.digest)
    .join(MODELS, MODELS.c.version == ACTIVATIONS.c.version)
    .order_by(ACTIVATIONS.c.id.desc())
    .limit(1)
)
_PARSED: dict[str, RiskModel] = {}  # digest -> model, for this process


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
        if row is None:
            return packaged_model()
        version, digest = row
        model = _PARSED.get(digest)
        if model is None:
            model = self.stored(version)
            assert model is not None  # the join found it
        return model

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

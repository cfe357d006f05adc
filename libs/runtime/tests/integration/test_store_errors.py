"""Real store errors (SQLite and PostgreSQL): classed as permanent, described without values."""

import pytest
from sqlalchemy.exc import IntegrityError, StatementError

from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS
from ensemble_runtime.errors import describe_error, is_transient_store_error

from ..support import Kit, RuntimeTestUnitOfWork, encounter

NHS = "9990000018"


def test_a_broken_constraint_is_permanent_and_its_text_carries_no_values(kit: Kit) -> None:
    event = encounter(NHS, 1)
    with kit.unit_of_work() as uow, pytest.raises(IntegrityError) as caught:
        uow.publish(HOSPITAL_ENCOUNTERS, event)
        uow.publish(HOSPITAL_ENCOUNTERS, event)  # the same event_id twice: unique violation
        uow.flush()
    error = caught.value
    assert NHS not in str(error), "the engine must hide SQL parameters"
    assert not is_transient_store_error(error)
    text = describe_error(error)
    assert text.startswith("IntegrityError (")
    assert NHS not in text and str(event.event_id) not in text and "INSERT" not in text


def test_a_nul_byte_is_refused_for_good_where_the_store_refuses_it(kit: Kit) -> None:
    def add_nul(uow: RuntimeTestUnitOfWork) -> None:
        uow.seen.add(encounter(NHS, 1).correlation_id, "999\x00000018", 1)
        uow.flush()

    if kit.service.engine.dialect.name != "postgresql":
        kit.run(add_nul)  # SQLite stores it
        return
    with pytest.raises(StatementError) as caught:
        kit.run(add_nul)
    assert not is_transient_store_error(caught.value)
    assert "999" not in describe_error(caught.value)

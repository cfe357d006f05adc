"""Documented maxima for every field that crosses a topic.

Producers enforce them at their edge (an HL7 message with a longer PV1-19 is answered AE);
the models enforce them again, so no event can outgrow a consumer's column or Kafka's
maximum request size. Raising a limit is a compatible change only if every consumer's
store can hold the new size (ADR 4).
"""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, Field

ODS_CODE = 12  # ODS codes are 3-6 characters today (trusts `RCB`, practices `L85001`)
CODE = 20  # HL7 coded values: trigger, patient class, admission type, disposition
CONTROL_ID = 200  # MSH-10 (ST; 20 in the standard, some engines send GUIDs and more)
VISIT_NUMBER = 50  # PV1-19
LOCATION = 200  # PV1-3, rendered `ward^room^bed`
LANGUAGE = 35  # BCP 47 tag
SHORT_TEXT = 100  # identifiers, versions, names of factors
TEXT = 500  # readable reasons and details
REASONS = 50  # score reasons per event

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _plausible(moment: datetime | None) -> datetime | None:
    """Clinical times outside 1900-2200 are typos or test junk: refuse them.

    A time without an offset is read as UTC (every producer writes UTC), so readers always
    get an aware time.
    """
    if moment is None:
        return None
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    if not EARLIEST <= aware < LATEST:
        raise ValueError("date is outside the plausible range 1900-2199")
    return aware


OdsCode = Annotated[str, Field(min_length=1, max_length=ODS_CODE)]
Code = Annotated[str, Field(max_length=CODE)]
ShortText = Annotated[str, Field(max_length=SHORT_TEXT)]
Text = Annotated[str, Field(max_length=TEXT)]
Language = Annotated[str, Field(max_length=LANGUAGE)]
ClinicalTime = Annotated[datetime, AfterValidator(_plausible)]

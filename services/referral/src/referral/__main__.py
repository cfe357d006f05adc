"""`python -m referral`: run the service until SIGTERM."""

from datetime import UTC, datetime

from ensemble_runtime.service import serve
from referral.domain.sla import load_calendar
from referral.service import DEFINITION


def main() -> None:
    load_calendar(datetime.now(UTC).date())
    serve(DEFINITION)


if __name__ == "__main__":
    main()

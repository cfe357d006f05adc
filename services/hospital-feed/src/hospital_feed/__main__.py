"""`python -m hospital_feed`: run the service until SIGTERM."""

from ensemble_runtime.service import serve
from hospital_feed.service import DEFINITION


def main() -> None:
    serve(DEFINITION)


if __name__ == "__main__":
    main()

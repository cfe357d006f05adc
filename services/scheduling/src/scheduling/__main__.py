"""`python -m scheduling`: run the service until SIGTERM."""

from ensemble_runtime.service import serve
from scheduling.bootstrap import bootstrap
from scheduling.config import Settings


def main() -> None:
    settings = Settings()
    serve(lambda: bootstrap(settings).app, settings)


if __name__ == "__main__":
    main()

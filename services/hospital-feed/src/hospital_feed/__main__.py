"""`python -m hospital_feed`: run the service until SIGTERM."""

from ensemble_runtime.service import serve
from hospital_feed.bootstrap import bootstrap
from hospital_feed.config import Settings


def main() -> None:
    settings = Settings()
    serve(lambda: bootstrap(settings).app, settings)


if __name__ == "__main__":
    main()

"""`python -m scoring` / `ensemble-scoring`: run the service until SIGTERM."""

from ensemble_runtime.service import serve
from scoring.bootstrap import bootstrap
from scoring.config import Settings


def main() -> None:
    settings = Settings()
    serve(lambda: bootstrap(settings).app, settings)


if __name__ == "__main__":
    main()

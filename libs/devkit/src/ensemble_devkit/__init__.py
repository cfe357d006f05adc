"""Local harness: a real Kafka broker and PostgreSQL without Docker, the services as processes."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[4]

"""`ensemble`: one ops CLI for every service (dead letters, outbox, lag, migrations) and each
service's own commands (tokens, rescoring), found through entry points (registry.py).

Run it as `ensemble ...` (or `python -m ensemble_runtime.ops_cli ...`); `--help` everywhere.
"""

from ensemble_runtime.ops_cli.app import build_app, main
from ensemble_runtime.ops_cli.common import JsonOption, QuietOption, emit, progress_bar
from ensemble_runtime.ops_cli.errors import OpsError, store_at
from ensemble_runtime.ops_cli.registry import Registry

__all__ = [
    "JsonOption",
    "OpsError",
    "QuietOption",
    "Registry",
    "build_app",
    "emit",
    "main",
    "progress_bar",
    "store_at",
]

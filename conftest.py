"""Root conftest: every tier shares the real-broker and store fixtures."""

pytest_plugins = ["ensemble_devkit.pytest_plugin"]

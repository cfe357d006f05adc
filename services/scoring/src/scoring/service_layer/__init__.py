"""Command and event handlers: one transaction each."""

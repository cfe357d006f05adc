"""scheduling: multilingual coaches across time zones, first appointments, no double booking."""

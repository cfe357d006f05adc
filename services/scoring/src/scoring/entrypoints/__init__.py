"""HTTP entrypoint: a thin shell over the service layer (subscriptions are in service.py)."""

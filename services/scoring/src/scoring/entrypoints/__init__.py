"""HTTP and Kafka entrypoints: thin shells over the service layer."""

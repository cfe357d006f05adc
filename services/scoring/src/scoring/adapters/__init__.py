"""Storage: SQLModel tables and small queries."""

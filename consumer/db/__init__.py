"""Database schema (SQLAlchemy Core tables), migrations and connections."""

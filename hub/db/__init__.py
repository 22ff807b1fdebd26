"""Persistence: SQLAlchemy 2 typed models, the engine factory and the unit of work."""

"""SynthWatch storage: SQLAlchemy models, repository functions and migrations."""

"""Open the database the command works on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from storage.config import StorageSettings
from storage.db import make_engine, make_session_factory, transaction
from storage.migrate import require_current, upgrade


@dataclass(frozen=True, slots=True)
class Store:
    """The state folder, its engine and a session factory."""

    settings: StorageSettings
    engine: Engine
    session_factory: sessionmaker[Session]

    @classmethod
    def open(cls, settings: StorageSettings, *, migrate: bool) -> Store:
        """Create the state folder and connect; migrate first, or insist the schema is current."""
        settings.ensure_dirs()
        engine = make_engine(settings.database_url)
        if migrate:
            # Imported here: importing nlp loads spaCy (~2 s), and only a migration needs it
            # (to fill the identifier keys of stored indicators).
            from nlp import identifier_key

            upgrade(engine, identifier_key=identifier_key)
        else:
            require_current(engine)
        return cls(settings, engine, make_session_factory(engine))

    @contextmanager
    def sessions(self) -> Iterator[Session]:
        """Open a session that commits when the block succeeds."""
        with transaction(self.session_factory) as session:
            yield session

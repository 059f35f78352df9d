"""Per-user keys of the read-only JSON API: who owns a key, what role it acts with, its state."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base

if TYPE_CHECKING:
    from storage.models.sources import User


class ApiKey(Base):
    """An API key: its public prefix and the SHA-256 of the whole key, never the key itself.

    The key acts with ``role``, which was its owner's role when it was made; it stops working
    when it is revoked, when its owner is disabled, or when its owner's role is another one.
    """

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    # "swk_" and 8 hex digits: shown in lists and audit rows to say which key was used.
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    owner: Mapped[User] = relationship()

    @property
    def active(self) -> bool:
        """Say whether the key was not revoked (its owner may still have been disabled)."""
        return self.revoked_at is None

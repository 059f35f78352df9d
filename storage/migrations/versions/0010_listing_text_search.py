"""full-text search over listing versions

Indexes each listing version's title, text (its first 200,000 characters) and the values of
its fields, for ``storage.text_search``, and indexes the versions already stored.

- SQLite: a contentless FTS5 table ``listing_text_search`` (rowid = the version's id, the
  ``unicode61`` tokenizer keeping diacritics) kept by triggers on ``listing_versions``, so every
  way of storing a version (the ORM, bulk executemany) indexes it. A batch migration that
  recreates ``listing_versions`` drops these triggers with the table: create them again.
- PostgreSQL: a stored generated column ``listing_versions.search_vector`` (``simple``
  configuration; punctuation turned into spaces first, so words split as on SQLite; a gap in
  the positions between title, fields and text) with a GIN index; adding the column computes
  it for every stored row.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 20:20:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

FTS_TABLE = "listing_text_search"
TEXT_CHARS = 200_000
# Characters PostgreSQL's parser would otherwise join words with (e-mail addresses, hosts,
# URLs, paths, hyphenated words, signed numbers); SQLite's tokenizer splits on all of them.
COLUMN_GAP = "synthwatch0column0gap"
PUNCTUATION = "@./:-<>&+_#~=?%$'\"!*^|\\,;()[]{}"

SQLITE_VALUES = """{row}.title, substr({row}.text, 1, {chars}),
        (SELECT group_concat(value, ' ') FROM json_each({row}.fields))"""


def _sqlite_insert(row: str) -> str:
    values = SQLITE_VALUES.format(row=row, chars=TEXT_CHARS)
    return f"INSERT INTO {FTS_TABLE} (rowid, title, text, fields) VALUES ({row}.id, {values});"


def _sqlite_delete(row: str) -> str:
    values = SQLITE_VALUES.format(row=row, chars=TEXT_CHARS)
    # A contentless table forgets a row only when told the values it indexed.
    return (
        f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}, rowid, title, text, fields)"
        f" VALUES ('delete', {row}.id, {values});"
    )


def _upgrade_sqlite() -> None:
    op.execute(
        f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5("
        "title, text, fields, content='', tokenize='unicode61 remove_diacritics 0')"
    )
    op.execute(
        f"CREATE TRIGGER {FTS_TABLE}_insert AFTER INSERT ON listing_versions BEGIN "
        f"{_sqlite_insert('new')} END"
    )
    op.execute(
        f"CREATE TRIGGER {FTS_TABLE}_delete AFTER DELETE ON listing_versions BEGIN "
        f"{_sqlite_delete('old')} END"
    )
    op.execute(
        f"CREATE TRIGGER {FTS_TABLE}_update AFTER UPDATE OF title, text, fields"
        f" ON listing_versions BEGIN {_sqlite_delete('old')} {_sqlite_insert('new')} END"
    )
    values = SQLITE_VALUES.format(row="listing_versions", chars=TEXT_CHARS)
    op.execute(
        f"INSERT INTO {FTS_TABLE} (rowid, title, text, fields)"
        f" SELECT listing_versions.id, {values} FROM listing_versions"
    )


def _upgrade_postgresql() -> None:
    punctuation = PUNCTUATION.replace("'", "''")
    spaces = " " * len(PUNCTUATION)

    def words(expression: str) -> str:
        return f"translate({expression}, '{punctuation}', '{spaces}')"

    # The top-level values of a JSON object as one text (arrays and objects as JSON text),
    # as SQLite's json_each gives them; immutable, so a generated column may use it.
    op.execute(
        "CREATE FUNCTION synthwatch_field_values(fields json) RETURNS text"
        " LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURNS NULL ON NULL INPUT AS"
        " $$ SELECT string_agg(value, ' ') FROM json_each_text("
        " CASE WHEN json_typeof(fields) = 'object' THEN fields ELSE '{}'::json END) $$"
    )
    field_values = words("coalesce(synthwatch_field_values(fields), '')")
    # A word between the parts, deleted again, leaves a gap in the positions: a phrase never
    # runs from the title into the fields or the text, as on SQLite.
    gap = f"to_tsvector('simple'::regconfig, '{COLUMN_GAP}')"
    parts = f" || {gap} || ".join(
        f"to_tsvector('simple'::regconfig, {words(expression)})"
        for expression in ("title", field_values, f"left(text, {TEXT_CHARS})")
    )
    op.execute(
        "ALTER TABLE listing_versions ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
        f"ts_delete({parts}, '{COLUMN_GAP}')) STORED"
    )
    op.execute(
        "CREATE INDEX ix_listing_versions_search_vector ON listing_versions"
        " USING gin (search_vector)"
    )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _upgrade_sqlite()
    elif dialect == "postgresql":
        _upgrade_postgresql()


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS {FTS_TABLE}_{trigger}")
        op.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_listing_versions_search_vector")
        op.execute("ALTER TABLE listing_versions DROP COLUMN IF EXISTS search_vector")
        op.execute("DROP FUNCTION IF EXISTS synthwatch_field_values(json)")

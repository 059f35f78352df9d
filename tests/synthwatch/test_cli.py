from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from storage.db import make_engine, make_session_factory, transaction
from storage.listings import IndicatorRecord
from storage.migrate import upgrade
from synthwatch.cli import main
from tests.conftest import NOW, downgrade
from tests.factories import add_offer, invented_source_toml

# Seeds must be a list.
BROKEN_SOURCE = invented_source_toml(name="Invented shop", seeds='"https://shop.example/"')


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SYNTHWATCH_HOME", str(tmp_path))
    monkeypatch.delenv("SYNTHWATCH_DATABASE_URL", raising=False)
    return tmp_path


def test_sources_check_names_the_file_and_line_of_an_error(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = home / "sources.toml"
    path.write_text(BROKEN_SOURCE)
    assert main(["sources", "check", str(path)]) == 1
    out = capsys.readouterr().out
    line = 1 + next(
        n for n, text in enumerate(BROKEN_SOURCE.splitlines()) if text.startswith("seeds")
    )
    assert f"{path}:{line}" in out.replace("\n", "") and "seeds" in out


def test_sources_check_accepts_the_demo_sources(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = (Path(__file__).parents[2] / "demo" / "sources.toml").read_text()
    path = home / "sources.toml"
    path.write_text(template.replace("{base_url}", "http://127.0.0.1:8421"))
    assert main(["sources", "check", str(path)]) == 0
    assert "demo-forum" in capsys.readouterr().out


def test_commands_refuse_an_unmigrated_database_with_a_clear_message(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["digest", "preview", "--out", str(home / "d.html")]) == 2
    assert "synthwatch db upgrade" in " ".join(capsys.readouterr().err.split())


def test_db_upgrade_then_digest_preview_writes_a_file(home: Path) -> None:
    assert main(["db", "upgrade"]) == 0
    out = home / "digest.html"
    assert main(["digest", "preview", "--week", "2026-W48", "--out", str(out)]) == 0
    assert "<html" in out.read_text().lower()


def test_db_upgrade_fills_the_identifier_keys_of_stored_indicators(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{home / 'old.db'}"
    monkeypatch.setenv("SYNTHWATCH_DATABASE_URL", url)
    engine = make_engine(url)
    upgrade(engine)
    with transaction(make_session_factory(engine)) as session:
        add_offer(
            session,
            NOW,
            "https://shop.example/1",
            IndicatorRecord("contact", 0, 15, "Wickr: ChemKing", "wickr"),
        )
    downgrade(engine, "0004")

    assert main(["db", "upgrade"]) == 0

    with engine.connect() as connection:
        assert connection.execute(text("SELECT key FROM indicators")).scalars().all() == [
            "wickr:chemking"
        ]
    engine.dispose()

"""The command's own help: `--version`, and an example under every command's `--help`."""

from __future__ import annotations

import argparse
import shlex
from importlib import metadata

import pytest

from synthwatch.cli import build_parser, main
from synthwatch.examples import EXAMPLES, command_paths, subcommands


def leaf_commands() -> dict[str, argparse.ArgumentParser]:
    return {
        path: parser
        for path, parser in command_paths(build_parser()).items()
        if not subcommands(parser)
    }


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])

    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"synthwatch {metadata.version('synthwatch')}"


def test_every_command_has_an_example() -> None:
    missing = sorted(set(leaf_commands()) - set(EXAMPLES))
    assert missing == []
    assert sorted(set(EXAMPLES) - set(leaf_commands())) == [], "an example of no command"


@pytest.mark.parametrize(
    ("path", "line"), [(path, line) for path, lines in EXAMPLES.items() for line in lines]
)
def test_every_example_is_a_valid_command_line(path: str, line: str) -> None:
    words = shlex.split(line)
    assert words[0] == "synthwatch"
    assert " ".join(words[1:]).startswith(path)

    args = build_parser().parse_args(words[1:])

    assert callable(args.handler)


@pytest.mark.parametrize("path", sorted(EXAMPLES))
def test_help_shows_the_examples(path: str) -> None:
    parser = dict(command_paths(build_parser()))[path]
    shown = parser.format_help()
    for line in EXAMPLES[path]:
        assert line in shown


def test_a_group_lists_the_examples_of_its_actions() -> None:
    shown = dict(command_paths(build_parser()))["digest"].format_help()
    assert "synthwatch digest send" in shown and "synthwatch digest outbox" in shown


def test_top_level_help_points_to_each_commands_help() -> None:
    assert "synthwatch COMMAND --help" in build_parser().format_help()

"""Load an earlier version of the `nlp` package beside the current one, in this process.

The copy is the current package with some of its files (or all) as they were at a git revision,
renamed `nlp_before` (imports, packaged data and spaCy factory names with it) so that both
pipelines can run interleaved in one process: ratios measured so hold on a shared machine.
"""

from __future__ import annotations

import atexit
import importlib
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
NAME = "nlp_before"
_IMPORT = re.compile(r"\b(from|import) nlp\b")
_RENAMES = (('files("nlp")', f'files("{NAME}")'), ('"synthwatch_', '"synthwatchbefore_'))


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def changed_files(revision: str) -> list[str]:
    """Return the nlp files (code and data) that differ between `revision` and the tree.

    Data goes with the code: the rules and the lexicon of a revision are what its code reads.
    """
    names = _git("diff", "--name-only", revision, "--", "nlp").split()
    return [name for name in names if (ROOT / name).exists()]


def load(revision: str, paths: list[str] | None = None) -> ModuleType:
    """Import the nlp package with `paths` (default: every changed file) as at `revision`."""
    paths = changed_files(revision) if paths is None else paths
    folder = Path(tempfile.mkdtemp(prefix="synthwatch-nlp-before-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    target = folder / NAME
    shutil.copytree(ROOT / "nlp", target, ignore=shutil.ignore_patterns("__pycache__"))
    for path in paths:
        if not path.startswith("nlp/"):
            raise SystemExit(f"not a file of the nlp package: {path}")
        (target / path.removeprefix("nlp/")).write_text(
            _git("show", f"{revision}:{path}"), encoding="utf-8"
        )
    for module in target.rglob("*.py"):
        source = _IMPORT.sub(rf"\1 {NAME}", module.read_text(encoding="utf-8"))
        for old, new in _RENAMES:
            source = source.replace(old, new)
        module.write_text(source, encoding="utf-8")
    sys.path.insert(0, str(folder))
    return importlib.import_module(NAME)

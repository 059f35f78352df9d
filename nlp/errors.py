"""Exceptions of the nlp package."""

from __future__ import annotations


class NlpDataError(ValueError):
    """A data file of the nlp package (lexicon, weights, cues) is broken."""

    def __init__(self, path: str, problem: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {problem}")
        self.path = path
        self.line = line
        self.problem = problem

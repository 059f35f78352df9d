"""SynthWatch: the ``synthwatch`` command that wires crawlers, nlp, storage and review together."""

__version__ = "0.1.0"

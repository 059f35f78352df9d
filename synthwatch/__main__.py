"""Run ``python -m synthwatch``."""

from __future__ import annotations

import sys

from synthwatch.cli import main

sys.exit(main())

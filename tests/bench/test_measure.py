"""Reading a child's CPU and memory from outside it (bench.measure)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest

from bench.measure import process_cpu, process_memory, watch
from bench.throughput import setting

# Allocates ~60 MB, then burns a little CPU, so both are visible from outside.
CHILD = "b = bytearray(60 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096]); sum(range(3_000_000))"


def test_own_process_is_read_and_a_gone_one_is_none() -> None:
    assert (process_cpu(os.getpid()) or 0) > 0
    memory = process_memory(os.getpid())
    assert memory is not None and 0 < memory[0] <= memory[1]
    assert process_cpu(2**22 + 1) is None and process_memory(2**22 + 1) is None


def test_watch_reports_the_child_peak_and_its_result() -> None:
    started: list[subprocess.Popen[bytes]] = []

    def run() -> int:
        process = subprocess.Popen([sys.executable, "-c", CHILD])
        started.append(process)
        return process.wait()

    watched = watch(run, lambda: started[0].pid if started else None, interval=0.01)
    assert watched.result == 0
    assert watched.peak_rss > 60 * 1024 * 1024
    assert watched.samples and watched.cpu > 0


def test_a_soak_setting_is_name_equals_value() -> None:
    assert setting("SYNTHWATCH_ANALYSER_REBUILD_EVERY=5000") == (
        "SYNTHWATCH_ANALYSER_REBUILD_EVERY",
        "5000",
    )
    assert setting("A=b=c") == ("A", "b=c")
    with pytest.raises(argparse.ArgumentTypeError):
        setting("no-value")

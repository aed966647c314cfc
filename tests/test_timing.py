"""The stage clock of the report and the demo, and serial_blas."""

import time

import numpy as np
import pytest

from neurolrp._timing import StageClock, serial_blas, stage


def _busy(seconds):
    end = time.process_time() + seconds
    x = 0
    while time.process_time() < end:
        x += 1
    return x


def test_stages_are_exclusive_and_add_up():
    clock = StageClock()
    t0 = time.perf_counter()
    with clock.running():
        with stage("outer"):
            _busy(0.05)
            with stage("inner"):
                _busy(0.1)
        _busy(0.02)  # outside any stage
        with stage("outer"):  # a stage entered twice adds up
            _busy(0.05)
    wall = time.perf_counter() - t0
    assert set(clock.stages) == {"outer", "inner", "other"}
    assert list(clock.rounded()) == ["outer", "inner", "other"]  # the rest last
    cpu = {k: s["user"] + s["sys"] for k, s in clock.stages.items()}
    # the inner stage is not counted in the outer one
    assert cpu["inner"] >= 0.1 and 0.1 <= cpu["outer"] < 0.1 + cpu["inner"]
    total = clock.total()
    assert total["wall"] == pytest.approx(sum(s["wall"] for s in clock.stages.values()))
    assert total["wall"] <= wall
    table = clock.table()
    assert table.splitlines()[0].split()[:3] == ["stage", "wall", "s"]
    assert "inner" in table and "total" in table and "page faults" in table
    rounded = clock.rounded()
    assert set(rounded["inner"]) == {"wall_s", "cpu_s", "sys_s", "faults"}


def test_stage_without_a_running_clock_does_nothing():
    clock = StageClock()
    with stage("x"):
        pass
    assert clock.stages == {}
    with clock.running():
        pass
    with stage("after"):  # the clock stopped
        pass
    assert "after" not in clock.stages


def test_nested_clocks_both_record():
    outer, inner = StageClock(), StageClock()
    with outer.running():
        with stage("loading"):
            _busy(0.01)
        with inner.running():
            with stage("work"):
                _busy(0.01)
    assert set(outer.stages) >= {"loading", "work"}
    assert "work" in inner.stages and "loading" not in inner.stages


def test_serial_blas_limits_and_restores():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    np.ones((4, 4)) @ np.ones((4, 4))  # numpy's BLAS is loaded

    def blas_threads():
        return [i["num_threads"] for i in threadpoolctl.threadpool_info()
                if i["user_api"] == "blas"]

    before = blas_threads()
    with serial_blas():
        assert set(blas_threads()) == {1}
        a = np.linalg.solve(np.eye(3) * 2, np.ones(3))
    assert blas_threads() == before
    np.testing.assert_allclose(a, 0.5)

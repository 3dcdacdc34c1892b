"""Shared test configuration.

Under CI=true a test skipped because a dependency is missing is a failure: CI installs
everything, so such a skip would hide a broken install.
"""

from __future__ import annotations

import os

import pytest

_MISSING_DEPENDENCY_MARKERS = ("could not import", "No module named")
_missing_dependency_skips: list[str] = []


def _is_missing_dependency_skip(report: pytest.TestReport | pytest.CollectReport) -> bool:
    return report.skipped and any(m in str(report.longrepr) for m in _MISSING_DEPENDENCY_MARKERS)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if _is_missing_dependency_skip(report):
        _missing_dependency_skips.append(report.nodeid)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if _is_missing_dependency_skip(report):
        _missing_dependency_skips.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("CI") == "true" and _missing_dependency_skips:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(
                "CI=true: tests skipped for a missing dependency: "
                + ", ".join(_missing_dependency_skips),
                red=True,
            )

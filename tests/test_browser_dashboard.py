"""Real Chromium, under the strict Content-Security-Policy: an office user opens the dashboard,
the charts render (a screenshot is kept in test-artifacts/), a filter narrows it, and the Excel
export downloads a valid workbook."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook

from matchmaker.office import reports, stats
from tests.browser import log_in, watch
from tests.conftest import ARTIFACTS
from tests.test_office_stats import history  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.sqlite_only]


def test_office_dashboard_with_charts_and_export(strict_app, live_server, page, make,
                                                  history):  # noqa: F811
    problems = watch(page)
    page.set_viewport_size({"width": 1400, "height": 1000})
    log_in(page, live_server, make.office())
    page.goto(f"{live_server}/office/dashboard")
    for chart in ("trend", "category", "region", "industry"):
        page.wait_for_selector(f'[data-gm-rendered="{chart}"] canvas')
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "office-dashboard.png"), full_page=True)

    page.fill("#start", "2026-04-01")
    page.fill("#end", "2026-06-30")
    page.get_by_role("button", name="筛选").click()
    page.wait_for_url("**/office/dashboard?*")
    want = stats.summary(stats.Filters(start=date(2026, 4, 1), end=date(2026, 6, 30)))
    kpi = page.locator('[data-kpi="needs_posted"] .fs-3')
    assert kpi.inner_text() == reports.display(want["needs_posted"], "int")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="导出 Excel（全部表格）").click()
    book = load_workbook(io.BytesIO(Path(download_info.value.path()).read_bytes()))
    assert "银行排行" in book.sheetnames
    assert problems == []

"""A drive's finance page draws its charts server-side as accessible SVG."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from accounts.models import Role
from finance import charts
from tests.factories import make_drive
from tests.finance.conftest import donate, fund


def svgs(html):
    return re.findall(r"<svg\b[^>]*>.*?</svg>", html, flags=re.S)


def test_the_drive_page_draws_three_labelled_svg_charts(app, staff, clock):
    drive_id = make_drive(app, title="Relocate <five> & more")
    donate(app, drive_id, 5000)
    clock.advance(hours=2)
    donate(app, drive_id, 2500)
    fund(app, drive_id, 0)
    page = staff(Role.FINANCE).client.get(f"/finance/drives/{drive_id}").get_data(as_text=True)
    charts = svgs(page)
    assert len(charts) == 3
    for chart in charts:
        assert 'role="img"' in chart
        title = re.search(r"<title>([^<]+)</title>", chart)
        assert title is not None
        assert "Relocate &lt;five&gt; &amp; more" in title.group(1)
        assert "<five>" not in chart
    assert "peak 1 gifts/hour" in charts[0]
    assert "$75.00 in all" in charts[1]
    assert "$75.00 in the last 72 h" in charts[1]
    assert "gifts/hour" not in charts[1]
    assert "Nothing paid yet." in charts[2]


def test_the_cumulative_line_starts_from_what_the_drive_had_before_the_window(app, staff, clock):
    drive_id = make_drive(app, ends_at=clock() + timedelta(days=10))
    donate(app, drive_id, 5000)
    clock.advance(hours=80)
    donate(app, drive_id, 2500)
    page = staff(Role.FINANCE).client.get(f"/finance/drives/{drive_id}").get_data(as_text=True)
    per_hour, cumulative, _ = svgs(page)
    assert "72 hours ago" in per_hour
    assert "$75.00 in all" in cumulative
    assert "$25.00 in the last 72 h" in cumulative
    heights = [float(y) for y in re.findall(r'points="[\d.]+,([\d.]+)', cumulative)]
    assert heights  # the line starts two thirds of the way up, not at zero
    baseline, top = charts.HEIGHT - charts.PAD, charts.PAD
    assert heights[0] == pytest.approx(baseline - (baseline - top) * 2 / 3, abs=0.1)


def test_an_ended_drive_is_drawn_up_to_its_end(app, staff, clock):
    drive_id = make_drive(app, ends_at=clock() + timedelta(hours=3))
    donate(app, drive_id, 5000)
    clock.advance(days=5)
    page = staff(Role.FINANCE).client.get(f"/finance/drives/{drive_id}").get_data(as_text=True)
    per_hour, cumulative, _ = svgs(page)
    assert "peak 1 gifts/hour" in per_hour
    assert ">the end<" in per_hour
    assert ">now<" not in per_hour
    assert "$50.00 in the last 72 h" in cumulative


def test_each_category_gets_a_bar_of_the_same_height_however_few():
    one = charts.by_category({"Flight": 64_000}, "usd", "Paid out")
    three = charts.by_category({"Flight": 64_000, "Housing": 32_000, "Medical": 5}, "usd", "Out")
    assert re.findall(r'<rect [^>]*height="(\d+)"', one) == [str(charts.CATEGORY_ROW - 8)]
    assert len(set(re.findall(r'<rect [^>]*height="(\d+)"', three))) == 1
    widths = [float(w) for w in re.findall(r'<rect [^>]*width="([\d.]+)"', three)]
    assert widths[0] == 2 * widths[1]
    assert "$640.00" in one


def test_in_arabic_the_chart_labels_stay_inside_the_chart(app, staff):
    drive_id = make_drive(app)
    donate(app, drive_id, 5000)
    finance = staff(Role.FINANCE)
    ltr = svgs(finance.client.get(f"/finance/drives/{drive_id}").get_data(as_text=True))
    rtl = svgs(finance.client.get(f"/finance/drives/{drive_id}?lang=ar").get_data(as_text=True))
    assert all('direction="ltr"' in chart for chart in ltr)
    assert all('direction="rtl"' in chart for chart in rtl)
    # Right-to-left text starts at its right end: the label at the left edge is anchored by
    # its end there, the one at the right edge by its start, so neither runs off the chart.
    axis = f'y="{charts.HEIGHT - 8:.1f}" font-size="12" text-anchor='
    left, right = (
        f'<text x="{charts.PAD:.1f}" {axis}',
        f'<text x="{charts.WIDTH - charts.PAD:.1f}" {axis}',
    )
    assert left + '"start"' in ltr[0]
    assert right + '"end"' in ltr[0]
    assert left + '"end"' in rtl[0]
    assert right + '"start"' in rtl[0]


def test_a_drive_that_does_not_exist_is_404(app, staff):
    assert staff(Role.FINANCE).client.get("/finance/drives/999").status_code == 404


def test_caseworkers_do_not_see_the_finance_pages(app, staff):
    drive_id = make_drive(app)
    caseworker = staff(Role.CASEWORKER)
    for url in ("/finance/", f"/finance/drives/{drive_id}", "/finance/disbursements"):
        assert caseworker.client.get(url).status_code == 403

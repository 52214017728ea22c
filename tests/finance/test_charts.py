"""A drive's finance page draws its charts server-side as accessible SVG."""

from __future__ import annotations

import re

from accounts.models import Role
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
    assert "$75.00 in 72 h" in charts[1]
    assert "Nothing paid yet." in charts[2]


def test_a_drive_that_does_not_exist_is_404(app, staff):
    assert staff(Role.FINANCE).client.get("/finance/drives/999").status_code == 404


def test_caseworkers_do_not_see_the_finance_pages(app, staff):
    drive_id = make_drive(app)
    caseworker = staff(Role.CASEWORKER)
    for url in ("/finance/", f"/finance/drives/{drive_id}", "/finance/disbursements"):
        assert caseworker.client.get(url).status_code == 403

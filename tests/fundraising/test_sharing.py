"""Sharing a drive: link previews, the share card, share links without trackers, ?via= channels."""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from PIL import Image
from sqlalchemy import select

from accounts.models import Role
from config import ConfigError, load_config
from extensions import db
from fundraising import share_card
from fundraising.covers import set_cover
from fundraising.models import Donation, DonationStatus, Drive, DriveStatus
from fundraising.presentation import story_summary
from fundraising.public_cache import PublicCache
from tests.conftest import create_payment_method
from tests.factories import make_drive, make_user, user_email
from tests.fundraising.stripe_objects import deliver
from tests.fundraising.support import make_gift

PUBLIC_URL = "https://donate.example.org"
DRIVE_URL = PUBLIC_URL + "/drives/relocation"
CHANNELS = {"whatsapp", "telegram", "x", "facebook", "email"}


class PageParts(HTMLParser):
    """The meta tags, the canonical link, and the share control's links and inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}
        self.canonical: str | None = None
        self.share_links: list[dict[str, str]] = []
        self.inputs: dict[str, dict[str, str]] = {}
        self.buttons: dict[str, dict[str, str]] = {}
        self._in_share = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "meta" and ("property" in values or "name" in values):
            self.meta[values.get("property") or values["name"]] = values.get("content", "")
        elif tag == "link" and values.get("rel") == "canonical":
            self.canonical = values["href"]
        elif tag == "section" and "share" in values.get("class", "").split():
            self._in_share = 1
        elif tag == "section" and self._in_share:
            self._in_share += 1
        elif tag == "a" and self._in_share:
            self.share_links.append(values)
        elif tag == "input":
            self.inputs[values.get("id") or values.get("name", "")] = values
        elif tag == "button" and "id" in values:
            self.buttons[values["id"]] = values

    def handle_endtag(self, tag: str) -> None:
        if tag == "section" and self._in_share:
            self._in_share -= 1


def parts(html: str) -> PageParts:
    parser = PageParts()
    parser.feed(html)
    return parser


def page(client: Any, path: str = "/drives/relocation") -> str:
    response = client.get(path)
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.fixture
def public_app(make_app: Any) -> Any:
    return make_app(PUBLIC_URL=PUBLIC_URL)


def png_upload() -> bytes:
    output = io.BytesIO()
    Image.new("RGB", (1600, 900), (40, 90, 160)).save(output, format="PNG")
    return output.getvalue()


# --- The link preview -----------------------------------------------------------------------


def test_the_drive_page_has_open_graph_and_twitter_tags_with_absolute_urls(public_app):
    make_drive(public_app, story="People are hunted for **who they are**.\n\nMore below.")
    found = parts(page(public_app.test_client(), "/drives/relocation?via=newsletter"))
    meta = found.meta
    assert meta["og:title"] == "Relocate five people"
    assert meta["og:type"] == "website"
    assert meta["og:url"] == DRIVE_URL  # the canonical address: no channel code in it
    assert found.canonical == DRIVE_URL
    assert meta["og:image"] == DRIVE_URL + "/share.png"
    assert (meta["og:image:width"], meta["og:image:height"]) == ("1200", "630")
    assert meta["og:image:type"] == "image/png"
    assert meta["og:image:alt"]
    assert meta["twitter:card"] == "summary_large_image"
    assert meta["og:description"] == "People are hunted for who they are."
    assert meta["description"] == meta["og:description"]
    for name in ("og:url", "og:image"):
        assert meta[name].startswith(PUBLIC_URL + "/"), name


def test_the_addresses_follow_public_url_never_the_host_header(make_app):
    app = make_app(PUBLIC_URL=PUBLIC_URL, SERVER_NAME=None)
    make_drive(app)
    response = app.test_client().get("/drives/relocation", headers={"Host": "evil.example.net"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    found = parts(html)
    assert found.meta["og:url"] == DRIVE_URL
    assert found.meta["og:image"] == DRIVE_URL + "/share.png"
    assert found.inputs["share-url"]["value"] == DRIVE_URL + "?via=link"
    assert "evil.example.net" not in html


def test_a_drive_with_a_cover_previews_the_cover(public_app):
    drive_id = make_drive(public_app)
    with public_app.app_context():
        drive = db.session.get(Drive, drive_id)
        set_cover(drive, png_upload(), "Volunteers at a safe house door")
        db.session.commit()
    meta = parts(page(public_app.test_client())).meta
    assert meta["og:image"] == DRIVE_URL + "/cover.jpg?v=1"
    assert (meta["og:image:width"], meta["og:image:height"]) == ("1600", "900")
    assert meta["og:image:type"] == "image/jpeg"
    assert meta["og:image:alt"] == "Volunteers at a safe house door"
    response = public_app.test_client().get("/drives/relocation/cover.jpg?v=1")
    assert response.status_code == 200
    assert response.mimetype == "image/jpeg"


@pytest.mark.parametrize(
    ("story", "summary"),
    [
        ("We need **flights** and [visas](https://example.org/v) for `five`.", None),
        ("## Why now\n\nWe need **flights** and [visas](https://example.org/v) for `five`.", None),
        ("We need *flights*\nand [visas](https://example.org/v) for `five`.\n\nNot this.", None),
        ("<b>raw</b> & <script>alert(1)</script>", "<b>raw</b> & <script>alert(1)</script>"),
        ("![a photo](https://example.org/x.jpg)", ""),
        ("", ""),
    ],
)
def test_the_summary_is_the_first_paragraph_as_plain_text(story, summary):
    expected = "We need flights and visas for five." if summary is None else summary
    assert story_summary(story) == expected


def test_a_long_first_paragraph_is_cut_at_a_word_near_200_characters():
    paragraph = " ".join(["Relocation"] * 40)  # 439 characters
    summary = story_summary(paragraph + "\n\nSecond paragraph.")
    assert len(summary) <= 200
    assert summary.endswith("Relocation…")
    assert len(summary) > 150


def test_the_description_never_carries_markup_into_the_page(public_app):
    make_drive(public_app, story='<script>alert("x")</script> "Quoted" & <b>bold</b>\n\nMore.')
    html = page(public_app.test_client())
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    meta = parts(html).meta  # the parser unescapes the attribute: the text as written
    assert meta["description"].startswith('<script>alert("x")</script>')


def test_a_drive_without_a_story_still_has_a_description(public_app):
    make_drive(public_app, story="")
    meta = parts(page(public_app.test_client())).meta
    assert meta["description"] == "Relocate five people: a fundraising drive by Safe Passage Fund."


# --- The share card -------------------------------------------------------------------------


class CountingRenders:
    """Wraps share_card.render_card, keeping what each render was given."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.figures: list[share_card.CardFigures] = []
        self._render = share_card.render_card
        monkeypatch.setattr(share_card, "render_card", self)

    def __call__(self, figures: share_card.CardFigures) -> bytes:
        self.figures.append(figures)
        return self._render(figures)


def card(client: Any, slug: str = "relocation", **headers: str) -> Any:
    return client.get(f"/drives/{slug}/share.png", headers=headers)


def test_the_share_card_is_a_1200_by_630_png_without_metadata(app, client):
    make_drive(app, title="Relocate five people")
    response = card(client)
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.headers["Cache-Control"] == "public, max-age=300"
    image = Image.open(io.BytesIO(response.data))
    assert image.format == "PNG"
    assert image.size == (1200, 630)
    image.load()
    assert getattr(image, "text", {}) == {}
    assert not {"exif", "comment", "icc_profile"} & set(image.info)


def test_the_card_is_drawn_once_per_period_and_shows_the_new_total_after(
    app, client, clock, monkeypatch
):
    renders = CountingRenders(monkeypatch)
    drive_id = make_drive(app, goal_minor=10_000)
    first = card(client)
    assert card(client).data == first.data
    assert len(renders.figures) == 1
    assert renders.figures[0].raised == "$0.00"

    deliver(client, make_gift(app, drive_id, 2500).succeeded())
    left = 300 - clock().timestamp() % 300
    clock.advance(seconds=left - 1)  # a gift in the same period: the kept card still
    assert card(client).data == first.data
    assert card(client, **{"If-None-Match": first.headers["ETag"]}).status_code == 304
    assert len(renders.figures) == 1

    clock.advance(seconds=1)  # the next period: drawn again, with the new total
    second = card(client)
    assert len(renders.figures) == 2
    assert (renders.figures[1].raised, renders.figures[1].percent) == ("$25.00", 25)
    assert second.data != first.data
    assert second.headers["ETag"] != first.headers["ETag"]


def test_a_burst_of_scrapers_costs_one_render(app, clock, monkeypatch):
    renders = CountingRenders(monkeypatch)
    make_drive(app)
    clients = [app.test_client() for _ in range(20)]
    assert {card(client).status_code for client in clients} == {200}
    assert len(renders.figures) == 1


def test_an_admin_change_shows_on_the_card_at_once(app, client, auth, monkeypatch):
    renders = CountingRenders(monkeypatch)
    drive_id = make_drive(app)
    card(client)
    auth.login(user_email(app, make_user(app, Role.ADMIN)))
    with app.app_context():
        drive = db.session.get(Drive, drive_id)
        drive.title = "Visas for three families"
        db.session.commit()
    closed = client.post(f"/admin/drives/{drive_id}/close")  # an admin's change, saved
    assert closed.status_code == 302
    card(client)
    assert len(renders.figures) == 2
    assert renders.figures[-1].title == "Visas for three families"


def test_share_card_seconds_zero_draws_every_time(make_app, monkeypatch):
    app = make_app(SHARE_CARD_SECONDS=0)
    renders = CountingRenders(monkeypatch)
    make_drive(app)
    client = app.test_client()
    card(client)
    card(client)
    assert len(renders.figures) == 2


def test_no_card_for_a_draft_or_an_unknown_drive(app, client, monkeypatch):
    renders = CountingRenders(monkeypatch)
    make_drive(app, slug="hidden", status=DriveStatus.DRAFT)
    assert card(client, "hidden").status_code == 404
    assert card(client, "no-such-drive").status_code == 404
    assert renders.figures == []


def test_the_card_carries_no_donor_s_name_message_or_email(app, client, monkeypatch):
    renders = CountingRenders(monkeypatch)
    drive_id = make_drive(app)
    gift = make_gift(
        app,
        drive_id,
        5000,
        name="Zainab Qasimova",
        email="zainab@example.org",
        message="For my brother Rustam",
    )
    deliver(client, gift.succeeded())
    response = card(client)
    assert response.status_code == 200
    (figures,) = renders.figures
    shown = " ".join(str(value) for value in vars(figures).values())
    for secret in ("Zainab", "Qasimova", "zainab@example.org", "Rustam", "brother"):
        assert secret not in shown
    assert figures.donors == 1
    assert b"Zainab" not in response.data
    assert b"Rustam" not in response.data


def test_a_right_to_left_title_and_a_very_long_title_render(app, client):
    make_drive(app, slug="arabic", title="نقل خمسة أشخاص إلى مكان آمن")
    long_title = "W" * 60 + " " + " ".join(["Supercalifragilistic"] * 4)  # 143: cut to 3 lines
    make_drive(app, slug="long", title=long_title)
    for slug in ("arabic", "long"):
        image = Image.open(io.BytesIO(card(client, slug).data))
        assert image.size == (1200, 630)


# --- Share links ----------------------------------------------------------------------------


def shared_address(link: dict[str, str]) -> str:
    """The drive address a share link hands over (inside its query or mailto body)."""
    href = link["href"]
    query = parse_qs(urlsplit(href).query)
    for name in ("url", "u"):
        if name in query:
            return query[name][0]
    text = (query.get("text") or query.get("body") or [""])[0]
    match = re.search(r"https?://\S+", unquote(text))
    assert match, href
    return match.group(0)


@pytest.mark.parametrize("path", ["/drives/relocation", "/drives/relocation?via=newsletter"])
def test_share_links_carry_their_own_channel_code_and_no_tracker(public_app, path):
    make_drive(public_app)
    html = page(public_app.test_client(), path)
    found = parts(html)
    assert "utm_" not in html
    links = {link["data-channel"]: link for link in found.share_links}
    assert set(links) == CHANNELS
    hosts = {channel: urlsplit(link["href"]).netloc for channel, link in links.items()}
    assert hosts == {
        "whatsapp": "wa.me",
        "telegram": "t.me",
        "x": "x.com",
        "facebook": "www.facebook.com",
        "email": "",
    }
    assert links["email"]["href"].startswith("mailto:?")
    for channel, link in links.items():
        assert link["rel"] == "noopener noreferrer"
        address = urlsplit(shared_address(link))
        assert f"{address.scheme}://{address.netloc}{address.path}" == DRIVE_URL
        assert parse_qs(address.query) == {"via": [channel]}, channel
    copy_box = found.inputs["share-url"]
    assert copy_box["value"] == DRIVE_URL + "?via=link"
    assert "readonly" in copy_box
    assert found.buttons["share-button"]["data-url"] == DRIVE_URL + "?via=share"
    assert "hidden" in found.buttons["share-button"]  # shown by share.js where it works
    assert "hidden" in found.buttons["copy-link"]


def test_the_share_control_has_a_labelled_heading_and_the_script(public_app):
    make_drive(public_app)
    html = page(public_app.test_client())
    assert '<section class="panel share" aria-labelledby="share-heading">' in html
    assert '<h2 id="share-heading">Share this drive</h2>' in html
    assert '<label for="share-url">' in html
    assert '<script src="/static/js/share.js" defer></script>' in html
    assert html.count("(opens in a new tab)") == len(CHANNELS) - 1  # not the email link


def test_the_thank_you_page_offers_the_same_share_links(public_app):
    make_drive(public_app)
    html = page(public_app.test_client(), "/drives/relocation/thanks")
    found = parts(html)
    assert {link["data-channel"] for link in found.share_links} == CHANNELS
    assert found.inputs["share-url"]["value"] == DRIVE_URL + "?via=link"
    assert "utm_" not in html
    assert "/static/js/share.js" in html


def test_the_share_script_is_served_and_sends_nothing(client):
    response = client.get("/static/js/share.js")
    assert response.status_code == 200
    script = response.get_data(as_text=True)
    response.close()
    assert "navigator.share" in script
    assert "fetch(" not in script
    assert "XMLHttpRequest" not in script


# --- ?via= channel codes --------------------------------------------------------------------


def via_field(html: str) -> str:
    match = re.search(r'<input type="hidden" name="via" value="([^"]*)">', html)
    assert match, "the donation form has no via field"
    return match.group(1)


@pytest.mark.parametrize("cache_seconds", [0, 5], ids=["uncached", "cached"])
def test_the_page_keeps_a_valid_via_code_in_the_form(make_app, cache_seconds):
    app = make_app(PUBLIC_CACHE_SECONDS=cache_seconds)
    app.extensions["public_cache"] = PublicCache(lambda: 1000.0)
    make_drive(app)
    client = app.test_client()
    assert via_field(page(client, "/drives/relocation?via=newsletter")) == "newsletter"
    assert via_field(page(client, "/drives/relocation?via=partner-radio-2")) == "partner-radio-2"
    assert via_field(page(client, "/drives/relocation")) == ""  # never another visitor's


BAD_CODES = ["", "Newsletter", "a" * 33, "two words", "x<y>", "ünï", "../etc", "a_b", "via&x=1"]


@pytest.mark.parametrize("code", BAD_CODES)
def test_a_bad_via_code_is_ignored_on_the_page(client, app, code):
    make_drive(app)
    response = client.get("/drives/relocation", query_string={"via": code})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert via_field(html) == ""
    if len(code) > 3:  # used nowhere (the footer's language picker keeps the query as it is)
        assert code not in html.split('<footer class="site-footer">', 1)[0]


def donate(client: Any, localstripe: str, **fields: str) -> Any:
    data = {"amount": "25.00", "payment_method": create_payment_method(localstripe), **fields}
    return client.post("/drives/relocation/donate", data=data)


def only_donation(app: Any) -> Donation:
    with app.app_context():
        return db.session.scalars(select(Donation)).one()


def test_the_via_code_goes_with_the_gift_into_the_donation(stripe_app, localstripe):
    make_drive(stripe_app)
    client = stripe_app.test_client()
    assert via_field(page(client, "/drives/relocation?via=whatsapp")) == "whatsapp"
    response = donate(client, localstripe, via="whatsapp")
    assert response.status_code == 200, response.get_json()
    donation = only_donation(stripe_app)
    assert donation.status is DonationStatus.SUCCEEDED
    assert donation.via_code == "whatsapp"


@pytest.mark.parametrize("code", BAD_CODES)
def test_a_bad_via_code_never_costs_the_gift_and_is_never_stored(stripe_app, localstripe, code):
    make_drive(stripe_app)
    response = donate(stripe_app.test_client(), localstripe, via=code)
    assert response.status_code == 200, response.get_json()
    donation = only_donation(stripe_app)
    assert donation.status is DonationStatus.SUCCEEDED
    assert donation.via_code is None


def test_the_service_refuses_to_store_a_bad_code_from_any_caller(app):
    drive_id = make_drive(app)
    good = make_gift(app, drive_id, via_code="newsletter")
    bad = make_gift(app, drive_id, via_code="Jane Doe <jane@example.org>")
    with app.app_context():
        assert db.session.get(Donation, good.donation_id).via_code == "newsletter"
        assert db.session.get(Donation, bad.donation_id).via_code is None


# --- Raised by channel, for admins ----------------------------------------------------------


def channel_rows(html: str) -> list[tuple[str, str, str]]:
    section = html.split('id="channels-heading"', 1)[1].split("</section>", 1)[0]
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>", section)
    return [(re.sub(r"</?code>", "", name), gifts, amount) for name, gifts, amount in rows]


def test_the_admin_drive_page_shows_what_each_channel_raised(app, client, auth):
    drive_id = make_drive(app)
    for amount, code in [(5000, "whatsapp"), (2500, "whatsapp"), (1000, None), (4000, "x")]:
        deliver(client, make_gift(app, drive_id, amount, via_code=code).succeeded())
    make_gift(app, drive_id, 9900, via_code="x")  # pending: not counted
    failed = make_gift(app, drive_id, 9900, via_code="telegram")
    deliver(client, failed.failed())
    auth.login(user_email(app, make_user(app, Role.ADMIN)))

    html = page(client, f"/admin/drives/{drive_id}")
    assert "Raised by channel" in html
    assert channel_rows(html) == [
        ("whatsapp", "2", "$75.00"),
        ("x", "1", "$40.00"),
        ("(direct)", "1", "$10.00"),
    ]


def test_a_drive_without_gifts_says_so_by_channel(app, client, auth):
    drive_id = make_drive(app)
    auth.login(user_email(app, make_user(app, Role.ADMIN)))
    html = page(client, f"/admin/drives/{drive_id}")
    section = html.split('id="channels-heading"', 1)[1].split("</section>", 1)[0]
    assert "No gifts yet." in section


def test_only_admins_see_the_channels(app, client, auth):
    drive_id = make_drive(app)
    auth.login(user_email(app, make_user(app, Role.FINANCE)))
    assert client.get(f"/admin/drives/{drive_id}").status_code in (403, 404)


# --- Settings -------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [("", 300), ("60", 60), ("0", 0)])
def test_share_card_seconds_comes_from_the_environment(monkeypatch, tmp_path, value, expected):
    monkeypatch.setenv("APP_ENV", "development")
    monkeypatch.setenv("SHARE_CARD_SECONDS", value)
    assert load_config(tmp_path)["SHARE_CARD_SECONDS"] == expected


@pytest.mark.parametrize("value", ["five minutes", "-1", "2.5"])
def test_a_bad_share_card_seconds_refuses_to_start_naming_it(monkeypatch, tmp_path, value):
    monkeypatch.setenv("APP_ENV", "development")
    monkeypatch.setenv("SHARE_CARD_SECONDS", value)
    with pytest.raises(ConfigError, match="SHARE_CARD_SECONDS"):
        load_config(tmp_path)


def test_an_unreadable_share_card_font_falls_back_and_still_draws(make_app, tmp_path, caplog):
    app = make_app(SHARE_CARD_FONT=str(tmp_path / "missing.ttf"))
    make_drive(app)
    response = card(app.test_client())
    assert response.status_code == 200
    assert Image.open(io.BytesIO(response.data)).size == (1200, 630)
    assert "SHARE_CARD_FONT cannot be read" in caplog.text
    assert str(tmp_path) not in caplog.text  # the path is not logged

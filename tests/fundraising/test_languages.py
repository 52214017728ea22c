"""Donors read the drive pages in their own language: chosen with ?lang= (and remembered), else
their browser's Accept-Language, else English; Arabic right to left; money in the language's
format; the donate form's errors, the page script's words, the share card and the error pages
translated; update emails in the language the donor gave in.

The tests bring their own small Spanish and Arabic catalogues (BABEL_TRANSLATION_DIRECTORIES),
so they check the wiring whatever the shipped catalogues hold (tests/test_translations.py
checks those)."""

from __future__ import annotations

import json
import re
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from flask import Flask
from sqlalchemy import select

from accounts import mail
from accounts.models import Role, User
from extensions import babel, db
from fundraising import share_card, update_mail, updates
from fundraising.models import Donation, DonationStatus, Drive, DriveStatus
from fundraising.public_cache import PublicCache
from fundraising.stripe_gateway import PaymentDeclined, PaymentResult, StripeGateway
from tests.factories import make_drive, make_user
from tests.fundraising import stripe_objects
from tests.fundraising.stripe_objects import deliver
from tests.fundraising.support import make_gift

PAGE = "/drives/relocation"
HTML = re.compile(r'<html lang="([a-z]+)" dir="(ltr|rtl)">')
MESSAGES = re.compile(r'<script type="application/json" id="page-messages">(.*?)</script>', re.S)
GIFT = {"amount": "25.00", "payment_method": "pm_card_visa"}

SPANISH: dict[Any, Any] = {
    "Enter an amount.": "Introduce una cantidad.",
    "The smallest gift to this drive is %(minimum)s.": "La donación mínima es %(minimum)s.",
    "Your card has insufficient funds.": "Tu tarjeta no tiene fondos suficientes.",
    "Your card was declined.": "Tu tarjeta fue rechazada.",
    "Give now": "Dona ahora",
    "Your name (optional)": "Tu nombre (opcional)",
    "%(raised)s raised of %(goal)s": "%(raised)s recaudados de %(goal)s",
    ("%(count)s donor", "%(count)s donors"): ("%(count)s donante", "%(count)s donantes"),
    "Not found": "No encontrado",
    "There is nothing here.": "Aquí no hay nada.",
    "You give %(total)s.": "Donas %(total)s.",
    "An update from %(organisation)s": "Una novedad de %(organisation)s",
}
ARABIC: dict[Any, Any] = {
    "Give now": "تبرّع الآن",
    "%(raised)s raised of %(goal)s": "جُمع %(raised)s من %(goal)s",
    ("%(count)s donor", "%(count)s donors"): ("%(count)s متبرع",) * 6,
    "An update from %(organisation)s": "تحديث من %(organisation)s",
}


def _write_catalogue(directory: Path, language: str, messages: dict[Any, Any]) -> None:
    catalogue = Catalog(locale=language)
    for msgid, text in messages.items():
        if isinstance(msgid, tuple):  # every plural form of the language, the last repeated
            forms = list(text) + [text[-1]] * (catalogue.num_plurals - len(text))
            catalogue.add(msgid, tuple(forms[: catalogue.num_plurals]))
        else:
            catalogue.add(msgid, text)
    folder = directory / language / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with (folder / "messages.mo").open("wb") as target:
        write_mo(target, catalogue)


def _forget_loaded_catalogues(app: Flask) -> None:
    """Flask-Babel keeps the catalogues it loaded per language on its one Babel object, for
    every app: forget them, so this test's own are read (and no other test sees them)."""
    with app.app_context():
        babel.domain_instance.cache.clear()


@pytest.fixture
def translated(make_app, tmp_path):
    """An app reading the tests' own Spanish and Arabic catalogues."""
    directory = tmp_path / "translations"
    _write_catalogue(directory, "es", SPANISH)
    _write_catalogue(directory, "ar", ARABIC)
    built: list[Flask] = []

    def build(**settings: Any) -> Flask:
        app = make_app(BABEL_TRANSLATION_DIRECTORIES=str(directory), **settings)
        _forget_loaded_catalogues(app)
        built.append(app)
        return app

    yield build
    for app in built:
        _forget_loaded_catalogues(app)


def language_of(response) -> tuple[str, str]:
    found = HTML.search(response.get_data(as_text=True))
    assert found, "no <html lang dir>"
    return found.group(1), found.group(2)


def script_messages(page: Any) -> dict[str, Any]:
    """The words a drive page (a response, or its text) hands its script."""
    text = page if isinstance(page, str) else page.get_data(as_text=True)
    found = MESSAGES.search(text)
    assert found, "the page hands its script no messages"
    messages: dict[str, Any] = json.loads(found.group(1))
    return messages


# --- Which language --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept_language", "expected"),
    [
        ("es-ES,es;q=0.9", ("es", "ltr")),
        ("ar", ("ar", "rtl")),
        ("fr-CA,fr;q=0.8,en;q=0.5", ("fr", "ltr")),
        ("de", ("en", "ltr")),  # not shipped: English
        (None, ("en", "ltr")),
    ],
)
def test_the_browser_s_language_is_used_when_none_was_picked(app, accept_language, expected):
    make_drive(app)
    headers = {"Accept-Language": accept_language} if accept_language else {}
    response = app.test_client().get(PAGE, headers=headers)
    assert response.status_code == 200
    assert language_of(response) == expected


def test_a_picked_language_wins_and_is_remembered_in_a_cookie(app):
    make_drive(app)
    client = app.test_client()
    picked = client.get(PAGE + "?lang=ar", headers={"Accept-Language": "es"})
    assert language_of(picked) == ("ar", "rtl")
    cookie = client.get_cookie("lang")
    assert cookie is not None
    assert cookie.value == "ar"
    assert cookie.http_only
    # Later pages, with no ?lang=, stay in the language picked.
    later = client.get("/", headers={"Accept-Language": "es"})
    assert language_of(later) == ("ar", "rtl")
    assert language_of(client.get(PAGE + "?lang=pt")) == ("pt", "ltr")
    assert client.get_cookie("lang").value == "pt"


@pytest.mark.parametrize("unknown", ["xx", "de", "AR", "", "ar-EG"])
def test_an_unknown_language_in_the_address_is_ignored(app, unknown):
    make_drive(app)
    client = app.test_client()
    response = client.get(f"{PAGE}?lang={unknown}", headers={"Accept-Language": "fr"})
    assert response.status_code == 200
    assert language_of(response) == ("fr", "ltr")
    assert client.get_cookie("lang") is None  # nothing remembered


def test_the_picker_keeps_the_channel_code_of_the_drive_link(app):
    make_drive(app)
    text = app.test_client().get(PAGE + "?via=whatsapp").get_data(as_text=True)
    picker = text[text.index('class="language-picker"') :]
    picker = picker[: picker.index("</form>")]
    assert '<input type="hidden" name="via" value="whatsapp">' in picker
    assert 'name="lang"' in picker


# --- The cached drive page --------------------------------------------------------------------


def test_the_cached_drive_page_gives_each_visitor_their_own_language(translated):
    app = translated(PUBLIC_CACHE_SECONDS=5)
    app.extensions["public_cache"] = PublicCache(lambda: 1000.0)  # the clock stands still
    make_drive(app)
    visitors = [("es", "es", "Dona ahora"), ("ar", "ar", "تبرّع الآن"), (None, "en", "Give now")]
    for _round in range(2):  # the second round is served from the cache
        for accept_language, expected, give in visitors:
            headers = {"Accept-Language": accept_language} if accept_language else {}
            response = app.test_client().get(PAGE, headers=headers)
            assert language_of(response)[0] == expected
            assert f'id="give-button">{give}</button>' in response.get_data(as_text=True)
            assert {"Accept-Language", "Cookie"} <= set(response.vary)
    kept = [key for key in app.extensions["public_cache"]._entries if key[0] == "drive"]
    assert sorted(key[2] for key in kept) == ["ar", "en", "es"]


# --- Money, figures and the form ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "goal", "minimum"),
    [
        ("en", "$60,000.00", "$5.00"),
        ("es", "60.000,00\xa0US$", "5,00\xa0US$"),
        ("fr", "60\u202f000,00\xa0$US", "5,00\xa0$US"),
        ("ar", "\u200f60,000.00\xa0US$", "\u200f5.00\xa0US$"),
    ],
)
def test_money_on_the_drive_page_is_in_the_reader_s_format(app, language, goal, minimum):
    make_drive(app)
    text = app.test_client().get(f"{PAGE}?lang={language}").get_data(as_text=True)
    assert f'<span id="goal">{goal}</span>' in text
    assert script_messages(text)["amount_minimum"].endswith(f"{minimum}.")


def test_the_page_the_form_and_the_figures_are_translated(translated):
    app = translated()
    drive_id = make_drive(app, goal_minor=100_000)
    client = app.test_client()
    deliver(client, make_gift(app, drive_id, 2500).succeeded())
    deliver(client, make_gift(app, drive_id, 2500).succeeded())
    text = client.get(PAGE + "?lang=es").get_data(as_text=True)
    assert '<label for="name">Tu nombre (opcional)</label>' in text  # a WTForms label
    assert (
        '<strong id="raised">50,00\xa0US$</strong> recaudados de <span id="goal">1.000,00\xa0US$'
    ) in text
    assert '<span id="donor-count"><span id="donors">2</span> donantes</span>' in text
    english = client.get(PAGE + "?lang=en").get_data(as_text=True)
    assert '<label for="name">Your name (optional)</label>' in english
    assert '<span id="donors">2</span> donors' in english


def test_the_page_hands_its_script_its_words_in_the_reader_s_language(translated):
    app = translated()
    make_drive(app)
    client = app.test_client()
    spanish = script_messages(client.get(PAGE + "?lang=es"))
    assert spanish["give"] == "Dona ahora"
    assert spanish["total"] == "Donas {total}."  # the script puts the amount in the mark
    assert spanish["fee"] == "Covering the fee adds {fee}: you give {total}."  # untranslated
    english = script_messages(client.get(PAGE + "?lang=en"))
    assert english["donors"] == {"one": "{count} donor", "other": "{count} donors"}
    assert english["time_left"] == "{time} left"
    assert english["amount_minimum"] == "The smallest gift is $5.00."
    # One form per plural category of the language, for Intl.PluralRules to pick from.
    arabic = script_messages(client.get(PAGE + "?lang=ar"))
    assert set(arabic["donors"]) == {"zero", "one", "two", "few", "many", "other"}
    assert set(arabic["donors"].values()) == {"{count} متبرع"}


# --- The donate answer ----------------------------------------------------------------------


def test_the_donate_errors_come_in_the_chosen_language(translated):
    app = translated()
    make_drive(app)
    client = app.test_client()
    client.get(PAGE + "?lang=es")  # the picker: the page remembers Spanish in a cookie
    empty = client.post(PAGE + "/donate?lang=es", data={**GIFT, "amount": ""})
    assert empty.status_code == 400
    assert empty.get_json() == {"error": "Introduce una cantidad.", "field": "amount"}
    small = client.post(PAGE + "/donate", data={**GIFT, "amount": "4.99"})  # the cookie: es
    assert small.status_code == 400
    assert small.get_json()["error"] == "La donación mínima es 5,00\xa0US$."
    english = app.test_client().post(PAGE + "/donate", data={**GIFT, "amount": "4.99"})
    assert english.get_json()["error"] == "The smallest gift to this drive is $5.00."


def test_a_message_without_a_translation_stays_english_and_whole(translated):
    """A gettext message the catalogue lacks reads as its English, placeholders filled."""
    app = translated()
    make_drive(app)
    response = app.test_client().post(PAGE + "/donate?lang=es", data={**GIFT, "amount": "25.005"})
    assert response.get_json()["error"] == "Use at most 2 digits after the decimal point."


class DecliningGateway(StripeGateway):
    """Stripe declining every card, for one reason."""

    def __init__(self, message: str, code: str | None) -> None:
        super().__init__(None, stripe_objects.WEBHOOK_SECRET)
        self.message, self.code = message, code

    def create_payment(self, **payment: Any) -> PaymentResult:
        raise PaymentDeclined(self.message, stripe_objects.new_id("pi"), self.code)


@pytest.mark.parametrize(
    ("stripe_says", "code", "language", "shown"),
    [
        (
            "Your card has insufficient funds.",
            "insufficient_funds",
            "es",
            "Tu tarjeta no tiene fondos suficientes.",
        ),
        (
            "Your card has insufficient funds.",
            "insufficient_funds",
            "en",
            "Your card has insufficient funds.",
        ),
        # A reason we have no words for: Stripe's own (English) for an English reader, the
        # plain "declined" in the reader's language for anyone else.
        (
            "Your card does not support this type of purchase.",
            "transaction_not_allowed",
            "en",
            "Your card does not support this type of purchase.",
        ),
        (
            "Your card does not support this type of purchase.",
            "transaction_not_allowed",
            "es",
            "Tu tarjeta fue rechazada.",
        ),
    ],
)
def test_a_decline_is_told_in_the_donor_s_language(translated, stripe_says, code, language, shown):
    app = translated(STRIPE_GATEWAY=DecliningGateway(stripe_says, code))
    make_drive(app)
    response = app.test_client().post(f"{PAGE}/donate?lang={language}", data=GIFT)
    assert response.status_code == 400
    assert response.get_json()["error"] == shown
    assert response.get_json()["field"] == "card"


# --- The share card, errors, mail ---------------------------------------------------------------


def test_the_share_card_is_drawn_per_language_and_the_page_names_its_own(translated, monkeypatch):
    app = translated()
    make_drive(app, goal_minor=10_000)
    drawn: list[share_card.CardFigures] = []
    render = share_card.render_card

    def counting(figures: share_card.CardFigures) -> bytes:
        drawn.append(figures)
        return render(figures)

    monkeypatch.setattr(share_card, "render_card", counting)
    client = app.test_client()
    spanish_page = client.get(PAGE + "?lang=es").get_data(as_text=True)
    assert 'property="og:image" content="http://localhost/drives/relocation/share.png?lang=es"' in (
        spanish_page
    )
    english = client.get(PAGE + "/share.png?lang=en")
    spanish = client.get(PAGE + "/share.png?lang=es")
    arabic = client.get(PAGE + "/share.png?lang=ar")
    assert client.get(PAGE + "/share.png?lang=es").data == spanish.data  # kept, not redrawn
    assert [figures.raised for figures in drawn] == ["$0.00", "0,00\xa0US$", "\u200f0.00\xa0US$"]
    assert (drawn[0].after_raised, drawn[0].status_line) == (
        "raised of $100.00",
        "0% of the goal · 0 donors",
    )
    assert drawn[1].after_raised == "recaudados de 100,00\xa0US$"
    assert drawn[1].status_line.endswith("0 donantes")
    assert [figures.is_right_to_left for figures in drawn] == [False, False, True]
    assert len({english.data, spanish.data, arabic.data}) == 3
    assert {"Accept-Language", "Cookie"} <= set(arabic.vary)


def test_error_pages_are_translated(translated):
    app = translated()
    response = app.test_client().get("/no-such-page?lang=es")
    assert response.status_code == 404
    text = response.get_data(as_text=True)
    assert language_of(response) == ("es", "ltr")
    assert "<h1>No encontrado</h1>" in text
    assert "<p>Aquí no hay nada.</p>" in text


def test_update_mail_is_in_the_language_the_donor_gave_in(translated, monkeypatch):
    """Each mail in its donor's language (English for a gift with none recorded), never in the
    language of the admin whose request ran the job (jobs run at once in development)."""
    app = translated(SMTP_FROM="updates@example.org")
    drive_id = make_drive(app)
    admin_id = make_user(app, Role.ADMIN)
    spanish = make_gift(app, drive_id, status=DonationStatus.SUCCEEDED, email="ana@example.org")
    older = make_gift(app, drive_id, status=DonationStatus.SUCCEEDED, email="ben@example.org")
    sent: list[EmailMessage] = []
    monkeypatch.setattr(mail, "deliver", sent.extend)
    with app.app_context():
        for gift, locale in ((spanish, "es"), (older, None)):
            donation = db.session.get(Donation, gift.donation_id)
            donation.locale = locale
            donation.updates_consented_at = donation.created_at
        drive = db.session.get(Drive, drive_id)
        admin = db.session.get(User, admin_id)
        text = updates.UpdateText(title="", body="Three people are safe now.")
        update_id = updates.post_update(drive, text, is_emailed=False, actor=admin).id
        db.session.commit()
    with app.test_request_context("/?lang=ar", headers={"Accept-Language": "ar"}):
        update_mail.send_update(update_id, spanish.donation_id)
        update_mail.send_update(update_id, older.donation_id)
    assert [message["To"] for message in sent] == ["ana@example.org", "ben@example.org"]
    assert sent[0]["Subject"] == "Una novedad de Safe Passage Fund"
    assert sent[1]["Subject"] == "An update from Safe Passage Fund"
    assert "You get this because you asked for updates" in sent[1].get_content()


def test_a_closed_drive_gives_its_final_total_in_the_reader_s_format(app):
    make_drive(app, status=DriveStatus.CLOSED)
    text = app.test_client().get(PAGE + "?lang=es").get_data(as_text=True)
    # The shipped Spanish catalogue, with the amount in Spanish format.
    assert "Recaudó <strong>0,00\xa0US$</strong> de 0 donantes." in text


class AcceptingGateway(StripeGateway):
    """Stripe taking every gift at once."""

    def __init__(self) -> None:
        super().__init__(None, stripe_objects.WEBHOOK_SECRET)
        self.intents: dict[str, dict[str, Any]] = {}

    def create_payment(self, **payment: Any) -> PaymentResult:
        intent_id = stripe_objects.new_id("pi")
        intent = stripe_objects.payment_intent(
            intent_id, amount=payment["amount_minor"], metadata=payment["metadata"]
        )
        self.intents[intent_id] = intent
        return PaymentResult.from_stripe(intent)

    def retrieve_payment(self, payment_intent_id: str) -> PaymentResult:
        return PaymentResult.from_stripe(self.intents[payment_intent_id])


def test_the_thank_you_page_keeps_its_gift_when_the_language_changes(translated):
    gateway = AcceptingGateway()
    app = translated(STRIPE_GATEWAY=gateway)
    make_drive(app)
    client = app.test_client()
    answer = client.post(PAGE + "/donate", data={**GIFT, "name": "Amal Haddad"})
    assert answer.get_json()["status"] == "succeeded"
    (intent_id,) = gateway.intents
    text = client.get(f"{PAGE}/thanks?payment_intent={intent_id}&lang=es").get_data(as_text=True)
    assert "Thank you, Amal Haddad" in text
    assert "<strong>25,00\xa0US$</strong>" in text
    picker = text[text.index('class="language-picker"') :]
    picker = picker[: picker.index("</form>")]
    assert f'<input type="hidden" name="payment_intent" value="{intent_id}">' in picker


# --- Every shipped language, as a donor sees it --------------------------------------------------


class _TextNodes(HTMLParser):
    """The visible text of a page, one entry per text node (scripts, styles and the language
    names of the picker, which are the same in every language, left out)."""

    SKIPPED = frozenset({"script", "style", "option", "title"})

    def __init__(self) -> None:
        super().__init__()
        self.nodes: set[str] = set()
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in self.SKIPPED:
            self._skipping += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        text = " ".join(data.split())
        if not self._skipping and sum(char.isalpha() for char in text) >= 4:
            self.nodes.add(text)


def _text_nodes(html: str) -> set[str]:
    parser = _TextNodes()
    parser.feed(html)
    return parser.nodes


# What is the drive's own, or a donor's, or a name: the same in every language by design.
NOT_UI = ("Amal", "Safe Passage Fund", "US$", "USD", "WhatsApp", "Telegram", "Facebook")


@pytest.mark.parametrize("language", ["es", "fr", "pt", "ru", "ar"])
def test_the_drive_and_thank_you_pages_have_no_english_left_in_each_shipped_language(
    make_app, language
):
    gateway = AcceptingGateway()
    app = make_app(STRIPE_GATEWAY=gateway)
    make_drive(app)
    client = app.test_client()
    answer = client.post(PAGE + "/donate", data={**GIFT, "name": "Amal Haddad"})
    (intent_id,) = gateway.intents
    assert answer.get_json()["status"] == "succeeded"
    pages = {
        "drive": PAGE,
        "thank-you": f"{PAGE}/thanks?payment_intent={intent_id}",
    }
    for name, url in pages.items():
        english = _text_nodes(client.get(url + ("&" if "?" in url else "?") + "lang=en").text)
        response = client.get(url + ("&" if "?" in url else "?") + f"lang={language}")
        assert language_of(response) == (language, "rtl" if language == "ar" else "ltr")
        translated = _text_nodes(response.text)
        with app.app_context():
            drive = db.session.scalar(select(Drive))
            own = f"{drive.title} {drive.story}"  # the drive's own words, as its admins wrote
        left = sorted(
            node
            for node in english & translated
            if not any(marker in node for marker in NOT_UI) and node not in own
        )
        assert not left, f"English left on the {name} page in {language}: {left}"


def test_each_language_has_its_own_address_for_search_engines(app):
    make_drive(app)
    client = app.test_client()
    english = client.get(PAGE).text
    base = "http://localhost" + PAGE
    assert f'<link rel="canonical" href="{base}">' in english
    for code in ("es", "fr", "pt", "ru", "ar"):
        assert f'<link rel="alternate" hreflang="{code}" href="{base}?lang={code}">' in english
    assert f'<link rel="alternate" hreflang="x-default" href="{base}">' in english
    spanish = client.get(PAGE + "?lang=es").text
    assert f'<link rel="canonical" href="{base}?lang=es">' in spanish
    assert f'<meta property="og:url" content="{base}?lang=es">' in spanish

"""Every shipped catalogue translates what its readers see, so `make test` fails on a message
a catalogue is missing: Arabic translates everything (donors and staff); Spanish, French,
Portuguese and Russian everything a donor sees. Messages are extracted from the code as
`make messages` does, so a new string that nobody translated fails here, not in front of a
donor. Placeholders must survive translation."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOGUES = ROOT / "translations"
SOURCES = (
    "accounts",
    "audit",
    "cases",
    "finance",
    "fundraising",
    "security",
    "templates",
    "static",
)
METHODS = [("**.py", "python"), ("**.html", "jinja2"), ("**.js", "javascript")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
EVERYTHING = ("ar",)
DONOR_LANGUAGES = ("es", "fr", "pt", "ru")
# What a donor sees: the public pages, their forms, scripts, errors and emails.
DONOR_FILES = re.compile(
    r"^(templates/(base\.html|errors/|macros/|cases/public_spending\.html|fundraising/(?!admin/))"
    r"|static/js/|fundraising/(forms|views|money|services|card_testing|presentation|sharing"
    r"|share_card|update_mail|receipt_mail|update_views|payment_methods)\.py|security/errors\.py"
    r"|cases/transparency\.py)"
)
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|%[sd]")


def _extracted() -> dict[Any, set[str]]:
    """Each message in the code (a string, or a (singular, plural) pair), with its files."""
    found: dict[Any, set[str]] = {}
    for source in SOURCES:
        directory = ROOT / source
        for filename, _line, message, _comments, _context in extract_from_dir(
            directory, METHODS, keywords=KEYWORDS, options_map={"**.html": {}}
        ):
            key = message if isinstance(message, str) else tuple(message[:2])
            found.setdefault(key, set()).add(f"{source}/{filename}")
    return found


@pytest.fixture(scope="module")
def extracted():
    return _extracted()


def _catalogue(language: str):
    path = CATALOGUES / language / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        pytest.fail(f"no {language} catalogue: run make messages and translate {path}")
    with path.open("rb") as handle:
        return read_po(handle, locale=language)


def _placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


@pytest.mark.parametrize("language", EVERYTHING + DONOR_LANGUAGES)
def test_the_catalogue_translates_every_message_its_readers_see(extracted, language):
    catalogue = _catalogue(language)
    missing, broken = [], []
    for key, files in sorted(extracted.items(), key=lambda item: str(item[0])):
        if language not in EVERYTHING and not any(DONOR_FILES.match(f) for f in files):
            continue
        msgid = key if isinstance(key, str) else key[0]
        entry = catalogue.get(key if isinstance(key, str) else key[0])
        strings = entry.string if entry is not None else None
        translated = [strings] if isinstance(strings, str) else list(strings or [])
        if entry is None or entry.fuzzy or not translated or not all(translated):
            missing.append(f"{msgid!r} ({sorted(files)[0]})")
            continue
        if isinstance(key, str):
            if set(_placeholders(translated[0])) != set(_placeholders(key)):
                broken.append(repr(msgid))
        else:  # a plural form may leave the number out ("one gift"), never invent a value
            allowed = set(_placeholders(key[0])) | set(_placeholders(key[1]))
            if any(not set(_placeholders(form)) <= allowed for form in translated):
                broken.append(repr(msgid))
    assert not missing, f"{len(missing)} untranslated in {language}:\n" + "\n".join(missing[:40])
    assert not broken, f"placeholders changed in {language}: " + ", ".join(broken[:20])

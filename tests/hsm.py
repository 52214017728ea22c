"""A real SoftHSM2 token for the tests, initialised by the project itself.

SoftHSM reads its token directory when the PKCS#11 library is initialised, so every token the
tests use is created here, before the library is first loaded, and shared by the whole session;
each test starts with the token emptied of keys. Without softhsm2 the token tests skip with a
message; REQUIRE_HSM=1 (set by .ci/run) makes that a failure."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

MODULE_PATHS = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)
LABEL = "safe-passage-test"
PIN = "314159"
SO_PIN = "27182818"


@dataclass(frozen=True)
class SoftHSM:
    module: str
    tokens: Path
    conf: Path

    def settings(self, pin: str = PIN) -> dict[str, Any]:
        return {"PKCS11_MODULE": self.module, "PKCS11_TOKEN_LABEL": LABEL, "PKCS11_PIN": pin}

    def copy_tokens(self, target: Path) -> Path:
        """A recovery copy of the token (as an HSM's backup to a second device would be):
        the token directory copied, with its own configuration file."""
        shutil.copytree(self.tokens, target / "tokens")
        conf = target / "softhsm2.conf"
        write_conf(conf, target / "tokens")
        return conf


def write_conf(conf: Path, tokens: Path) -> None:
    conf.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n",
        encoding="utf-8",
    )


def _unavailable(message: str) -> None:
    if os.environ.get("REQUIRE_HSM") == "1":
        pytest.fail(message + "; REQUIRE_HSM=1 makes this a failure")
    pytest.skip(message)


def start(root: Path) -> SoftHSM:
    util = shutil.which("softhsm2-util")
    module = next((path for path in MODULE_PATHS if os.path.exists(path)), None)
    if util is None or module is None:
        _unavailable("SoftHSM2 not found (install the softhsm2 package)")
        raise AssertionError("unreachable")
    tokens = root / "tokens"
    tokens.mkdir()
    conf = root / "softhsm2.conf"
    write_conf(conf, tokens)
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        [util, "--init-token", "--free", "--label", LABEL, "--pin", PIN, "--so-pin", SO_PIN],
        check=True,
        capture_output=True,
        env={**os.environ, "SOFTHSM2_CONF": str(conf)},
    )
    return SoftHSM(module, tokens, conf)


def empty_token(hsm: SoftHSM) -> None:
    """Destroy every key in the test token (each test starts from none)."""
    from security.token import Token

    token = Token(hsm.module, LABEL, PIN)
    for label in token.labels():
        token.destroy(label)

"""Pseudonymous exports: identifiers hashed with a per-installation salt, addresses dropped.

Session files are health data. By default an export carries no Bluetooth address, no device
serial and no runner id in the clear: serials and the runner id are replaced by
``HMAC-SHA256(salt, kind + ":" + value)`` truncated to 16 hex digits, where ``salt`` is 32
random bytes created once per installation in ``$BREATHFORM_HOME/export-salt`` (or
``~/.local/share/breathform/export-salt``), readable by its owner only. The same runner gets
the same pseudonym in every export from this installation (so sessions can be linked), and
nobody without the salt file can go back from the pseudonym to the id. ``--identify`` keeps
the identifiers as recorded.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from breathform.errors import InputError

SALT_FILE = "export-salt"
_SALT_BYTES = 32
_IDENTIFYING_KEYS = ("address", "mac", "name")
"""Config/metadata keys dropped from pseudonymous exports (BLE addresses, device names)."""
_MAC = re.compile(r"\b[0-9A-Fa-f]{2}(?:[:-][0-9A-Fa-f]{2}){5}\b")
_POLAR_NAME = re.compile(r"(Polar H10 )[0-9A-Fa-f]{8}\b")
"""Polar advertises "Polar H10 <device id>": the id is the strap's serial."""
_HASHED_KEYS = ("serial", "serial_number", "runner_id", "id")
"""Keys whose values are replaced by their pseudonym."""


def data_home() -> Path:
    """Breathform's per-user data folder: $BREATHFORM_HOME or ~/.local/share/breathform."""
    home = os.environ.get("BREATHFORM_HOME")
    if home:
        return Path(home).expanduser()
    return Path.home() / ".local" / "share" / "breathform"


def load_salt(folder: Path | None = None) -> bytes:
    """The installation's salt, created on first use (mode 0600).

    Args:
        folder: Where the salt file lives (default :func:`data_home`).

    Returns:
        32 bytes.

    Raises:
        InputError: If the salt file exists but is not a valid salt, or cannot be created.
    """
    d = folder if folder is not None else data_home()
    path = d / SALT_FILE
    try:
        d.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise InputError(f"cannot create the pseudonymisation salt {str(path)!r}: "
                         f"{exc.strerror}") from exc
    else:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_hex(_SALT_BYTES) + "\n")
    try:
        text = path.read_text(encoding="ascii").strip()
        salt = bytes.fromhex(text)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"pseudonymisation salt {str(path)!r} is unreadable; expected "
                         f"{2 * _SALT_BYTES} hex digits (delete it to make a new one, which "
                         f"changes every pseudonym)") from exc
    if len(salt) != _SALT_BYTES:
        raise InputError(f"pseudonymisation salt {str(path)!r} has {len(salt)} bytes, "
                         f"expected {_SALT_BYTES}")
    return salt


@dataclass(frozen=True, slots=True)
class Privacy:
    """How identifiers are written into an export.

    Attributes:
        identify: Keep identifiers as recorded (``--identify``).
        salt: The installation salt (unused when ``identify``).
    """

    identify: bool
    salt: bytes = b""

    @classmethod
    def create(cls, identify: bool, salt_folder: Path | None = None) -> Privacy:
        """Privacy settings; loads (or creates) the salt unless ``identify``."""
        return cls(identify=True) if identify else cls(identify=False,
                                                       salt=load_salt(salt_folder))

    def pseudonym(self, kind: str, value: str) -> str:
        """The export form of an identifier: itself, or its 16-hex-digit pseudonym."""
        if self.identify:
            return value
        mac = hmac.new(self.salt, f"{kind}:{value}".encode(), hashlib.sha256)
        return mac.hexdigest()[:16]

    def subject_label(self, runner_id: str) -> str:
        """An alphanumeric subject label (BIDS ``sub-<label>``) for the runner."""
        label = re.sub(r"[^A-Za-z0-9]", "", self.pseudonym("runner", runner_id))
        return label or "1"

    def scrub(self, value: Any, key: str = "") -> Any:
        """A copy of nested config/metadata with identifying keys dropped or hashed.

        Args:
            value: JSON-like data (dicts, lists, scalars).
            key: The key ``value`` sits under (used for the recursion).

        Returns:
            The same structure; unchanged when ``identify``.
        """
        if self.identify:
            return value
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for k, v in value.items():
                lk = str(k).lower()
                if lk in _IDENTIFYING_KEYS:
                    continue
                if lk in _HASHED_KEYS and isinstance(v, str) and v:
                    out[k] = self.pseudonym("runner" if "id" in lk else "serial", v)
                    continue
                out[k] = self.scrub(v, str(k))
            return out
        if isinstance(value, list):
            return [self.scrub(v, key) for v in value]
        return value

    def scrub_text(self, text: str, identifiers: list[str]) -> str:
        """Free text (event details) without Bluetooth addresses or the given identifiers.

        Args:
            text: The text.
            identifiers: Values to hide wherever they appear (configured addresses or device
                names, the runner id).

        Returns:
            ``text`` with each identifier and each MAC-style address replaced by
            ``<hidden>``; unchanged when ``identify``.
        """
        if self.identify:
            return text
        for ident in sorted((i for i in identifiers if i), key=len, reverse=True):
            text = text.replace(ident, "<hidden>")
        text = _MAC.sub("<hidden>", text)
        return _POLAR_NAME.sub(r"\1<hidden>", text)

    def describe(self) -> dict[str, Any]:
        """What the export did with identifiers, for its metadata."""
        if self.identify:
            return {"pseudonymised": False,
                    "note": "exported with --identify: identifiers kept as recorded"}
        return {"pseudonymised": True,
                "method": "HMAC-SHA256 with a per-installation salt, 16 hex digits",
                "dropped": list(_IDENTIFYING_KEYS), "hashed": list(_HASHED_KEYS)}

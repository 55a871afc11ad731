"""Patient pseudonyms that cannot be reversed by guessing ids: HMAC-SHA-256 under a secret key.

An unsalted hash of a PatientID is reversible by enumerating the id format (hospital ids are short
numbers): 16 of 16 were reversed in a quarter of a second. A keyed hash is not, without the key.

The key (32 random bytes) is created on first use in ``$RESTOOLKIT_HOME/pseudonym.key`` (default
``~/.restoolkit``; file mode 0600) and never written anywhere else: not in indexes, reports, run
directories or logs. ``RESTOOLKIT_PSEUDONYM_KEY_FILE`` points at another file, e.g. one key per project
or one shared by the sites of a study so that their pseudonyms agree. The same key always maps a patient
to the same pseudonym; losing the key only means new pseudonyms, never exposed ids.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tempfile
from pathlib import Path

_CACHE: dict[str, bytes] = {}


def key_file() -> Path:
    """Where the key lives (see the module docstring)."""
    explicit = os.environ.get("RESTOOLKIT_PSEUDONYM_KEY_FILE")
    if explicit:
        return Path(explicit).expanduser()
    return Path(os.environ.get("RESTOOLKIT_HOME", Path.home() / ".restoolkit")).expanduser() / "pseudonym.key"


def project_key() -> bytes:
    """The key, created on first use (exclusively: two processes starting together agree on one key)."""
    path = key_file()
    cached = _CACHE.get(str(path))
    if cached is not None:
        return cached
    if not path.exists():
        # Written whole under a private name, then linked into place: the link fails if another process
        # got there first, and no process can ever read a half-written (empty) key.
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, draft = tempfile.mkstemp(dir=path.parent, prefix=".pseudonym-key-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(32))
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(draft)
    key = path.read_bytes()
    if len(key) < 16:
        from restoolkit.errors import ConfigError

        raise ConfigError(f"{path}: a pseudonym key must hold at least 16 random bytes, found {len(key)}")
    _CACHE[str(path)] = key
    return key


def pseudonym(patient_id: str) -> str:
    """16 hex digits of HMAC-SHA-256(key, patient id); ``""`` for an empty id."""
    value = str(patient_id or "")
    if not value:
        return ""
    return hmac.new(project_key(), value.encode(), hashlib.sha256).hexdigest()[:16]

"""API keys and tokens: redacted names, fingerprints for rate buckets, and the token pool.

A credential is only ever revealed at the moment it is put on the wire (``http.py``).
Everything else — logs, errors, rate-limit bucket names, the status page — uses its
``label`` (``token#2 (…a1b2)``) or its ``fingerprint`` (a hash prefix), so a key cannot leak
through a message or a database row.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from crawl_pipeline.settings import Secret

log = logging.getLogger(__name__)

ANONYMOUS = "anon"  # the bucket fingerprint of calls made without a key (limited per address)


@dataclass(eq=False)
class Credential:
    """One key or token. ``secret`` is None for anonymous access (OpenDota's free tier)."""

    secret: Secret | None
    label: str
    fingerprint: str
    disabled_reason: str | None = field(default=None)

    @classmethod
    def anonymous(cls) -> Credential:
        return cls(None, "no key", ANONYMOUS)

    @classmethod
    def of(cls, secret: Secret, kind: str, number: int) -> Credential:
        value = secret.reveal()
        tail = value[-4:] if len(value) >= 12 else ""  # short keys show nothing of themselves
        label = f"{kind}#{number}" + (f" (…{tail})" if tail else "")
        return cls(secret, label, hashlib.sha256(value.encode()).hexdigest()[:12])

    @property
    def healthy(self) -> bool:
        return self.disabled_reason is None

    def __repr__(self) -> str:
        state = "" if self.healthy else ", disabled"
        return f"Credential({self.label}{state})"


class CredentialPool:
    """Round robin among healthy credentials; a rejected one is disabled for the process.

    Each credential has its own rate bucket (see ``ratelimit.py``), so rotating over N
    tokens gives N budgets. The pool is thread-safe.
    """

    def __init__(self, provider: str, credentials: Sequence[Credential]) -> None:
        if not credentials:
            raise ValueError("a credential pool needs at least one credential (use Credential.anonymous())")
        self.provider = provider
        self._credentials = list(credentials)
        self._next = 0
        self._lock = threading.Lock()

    @classmethod
    def from_secrets(cls, provider: str, secrets: Sequence[Secret], kind: str, *, allow_anonymous: bool) -> CredentialPool:
        """A pool of the non-empty secrets; anonymous when there are none and the provider allows it."""
        creds = [Credential.of(s, kind, i + 1) for i, s in enumerate(s for s in secrets if s)]
        if not creds:
            creds = [Credential.anonymous()] if allow_anonymous else []
        if not creds:
            return cls(provider, [Credential(None, f"no {kind}", "missing", "not configured")])
        return cls(provider, creds)

    def __repr__(self) -> str:
        return f"CredentialPool({self.provider}: {', '.join(map(repr, self._credentials))})"

    @property
    def credentials(self) -> list[Credential]:
        return list(self._credentials)

    def healthy(self) -> list[Credential]:
        """Healthy credentials, starting with the next in round-robin order (advances the turn)."""
        with self._lock:
            n = len(self._credentials)
            ordered = [self._credentials[(self._next + i) % n] for i in range(n)]
            self._next = (self._next + 1) % n
        return [c for c in ordered if c.healthy]

    def disable(self, credential: Credential, reason: str) -> None:
        with self._lock:
            if not credential.healthy:
                return
            credential.disabled_reason = reason
        log.warning("%s: %s disabled (%s); it is not used again by this process", self.provider, credential.label, reason)

    def disabled(self) -> list[str]:
        """``"token#2 (…a1b2): HTTP 401"`` for every disabled credential."""
        return [f"{c.label}: {c.disabled_reason}" for c in self._credentials if not c.healthy]

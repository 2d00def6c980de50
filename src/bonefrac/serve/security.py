"""API-key authentication: a header checked in constant time; the key id (never the key) is recorded."""

from __future__ import annotations

import hmac

from bonefrac.errors import ConfigError
from bonefrac.serve.settings import ServeSettings


class ApiKeyChecker:
    """Knows the configured keys; `identify` returns the key id of a presented key, or None."""

    def __init__(self, settings: ServeSettings) -> None:
        self.header = settings.api_key_header
        self._keys = settings.key_ids()
        if settings.env == "production" and not self._keys:
            raise ConfigError(
                "BONEFRAC_ENV=production requires API keys: set BONEFRAC_API_KEYS to a comma-separated list "
                "of keys (each 'key' or 'id:key', at least 8 characters)"
            )

    @property
    def required(self) -> bool:
        """Keys are checked whenever some are configured (always so in production)."""
        return bool(self._keys)

    def identify(self, presented: str | None) -> str | None:
        if not presented:
            return None
        found = None
        for secret, key_id in self._keys.items():
            if hmac.compare_digest(secret.encode(), presented.encode()):
                found = key_id
        return found

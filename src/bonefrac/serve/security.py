"""API-key authentication: a header checked in constant time; the key id (never the key) is recorded."""

from __future__ import annotations

import hmac

from bonefrac.errors import ConfigError
from bonefrac.serve.settings import ServeSettings


class NotAuthenticated(Exception):
    """No API key, or one that is not configured, on a route that needs one."""


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

    def authenticate(self, presented: str | None) -> str | None:
        """The key id of `presented` (None when keys are not required); NotAuthenticated otherwise."""
        if not self.required:
            return None
        key_id = self.identify(presented)
        if key_id is None:
            what = "missing" if not presented else "not valid"
            raise NotAuthenticated(f"API key {what}: send a valid key in the {self.header} header")
        return key_id

    def identify(self, presented: str | None) -> str | None:
        if not presented:
            return None
        found = None
        for secret, key_id in self._keys.items():
            if hmac.compare_digest(secret.encode(), presented.encode()):
                found = key_id
        return found

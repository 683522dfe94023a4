"""Account identifiers: 32-bit account ids, steamid64 conversion, anonymous players."""

from __future__ import annotations

STEAMID64_OFFSET = 76561197960265728
ANONYMOUS_ACCOUNT_ID = 4294967295  # what Steam sends for a player who hides their profile
MAX_ACCOUNT_ID = 2**32 - 2


def to_steamid64(account_id: int) -> int:
    return account_id + STEAMID64_OFFSET


def from_steamid64(steamid64: int) -> int:
    return steamid64 - STEAMID64_OFFSET


def is_anonymous(account_id: int | None) -> bool:
    """Missing ids and 4294967295 are anonymous players: they never become accounts."""
    return account_id is None or account_id == ANONYMOUS_ACCOUNT_ID or account_id <= 0


def parse_account_id(value: str | int) -> int:
    """Parse a user-supplied account id (32-bit or steamid64); raise ValueError saying why."""
    text = str(value).strip()
    try:
        if not text.isascii():  # int() would take other scripts' digits
            raise ValueError
        number = int(text)
    except ValueError:
        raise ValueError(f"invalid account id {value!r}: not an integer") from None
    if number >= STEAMID64_OFFSET:
        number = from_steamid64(number)
    if number <= 0 or number > MAX_ACCOUNT_ID:
        raise ValueError(f"invalid account id {value!r}: must be 1..{MAX_ACCOUNT_ID} or a steamid64")
    return number

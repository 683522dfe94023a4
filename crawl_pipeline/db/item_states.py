"""The states of a crawl item, written once as SQL: every query that counts, picks or checks items
builds its predicate here (the frontier, the engine, checks, status, metrics, retry).

An account has three phases, each with a done column, the last error and an attempts count; a
match stub has ``has_details`` (NULL = pending, true = detailed, false = failed), its last
``fetch_error`` and ``retry_count``.

- *settled*: succeeded, or used its ``MAX_ATTEMPTS`` (a 404 or 400 spends them all at once);
  nothing fetches it again until ``crawl-pipeline retry`` re-opens it.
- *retriable*: failed with attempts left; the next run of its batch fetches it again.
- *pending*: never tried, or left without counting an attempt (``sources.errors.outcome_of``);
  *waiting* is pending with an error that was not the item's own (Steam's 500, an outage, a spent
  budget, a bad key).
"""

from __future__ import annotations

MAX_ATTEMPTS = 3

# account phase, named as its asset (what status, retry, metrics and logs show) -> (done column,
# error column, attempts column); the columns keep their migration-time names
PHASES = {
    "player_profiles": ("profile_fetched_at", "profile_error", "profile_attempts"),
    "hero_stats": ("hero_stats_at", "hero_stats_error", "hero_stats_attempts"),
    "match_stubs": ("matches_synced_at", "matches_error", "matches_attempts"),
}


def _columns(alias: str) -> str:
    return f"{alias}." if alias else ""


# ------------------------------------------------------------------ account phases


def phase_settled(phase: str, alias: str = "") -> str:
    done, _, attempts = (_columns(alias) + c for c in PHASES[phase])
    return f"({done} IS NOT NULL OR {attempts} >= {MAX_ATTEMPTS})"


def phase_failed(phase: str, alias: str = "") -> str:
    """Not done and an error recorded (retriable or given up)."""
    done, error, _ = (_columns(alias) + c for c in PHASES[phase])
    return f"({done} IS NULL AND {error} IS NOT NULL)"


def phase_retriable(phase: str, alias: str = "") -> str:
    done, error, attempts = (_columns(alias) + c for c in PHASES[phase])
    return f"({done} IS NULL AND {error} IS NOT NULL AND {attempts} < {MAX_ATTEMPTS})"


def phase_gave_up(phase: str, alias: str = "") -> str:
    done, _, attempts = (_columns(alias) + c for c in PHASES[phase])
    return f"({done} IS NULL AND {attempts} >= {MAX_ATTEMPTS})"


def phase_pending(phase: str, alias: str = "") -> str:
    """Not done and no error: never tried (or re-opened by a refresh)."""
    done, error, _ = (_columns(alias) + c for c in PHASES[phase])
    return f"({done} IS NULL AND {error} IS NULL)"


# ------------------------------------------------------------------ match stubs


def stub_pending(alias: str = "") -> str:
    return f"({_columns(alias)}has_details IS NULL)"


def stub_waiting(alias: str = "") -> str:
    m = _columns(alias)
    return f"({m}has_details IS NULL AND {m}fetch_error IS NOT NULL)"


def stub_retriable(alias: str = "") -> str:
    m = _columns(alias)
    return f"({m}has_details = false AND {m}retry_count < {MAX_ATTEMPTS})"


def stub_gave_up(alias: str = "") -> str:
    m = _columns(alias)
    return f"({m}has_details = false AND {m}retry_count >= {MAX_ATTEMPTS})"


def stub_unsettled(alias: str = "") -> str:
    """Still to be fetched by a run of its batch: pending or retriable."""
    return f"({stub_pending(alias)} OR {stub_retriable(alias)})"

"""The smurf-scoring model: nine explainable signals in [0, 1] and a weighted total.

Pure logic (numpy only): no Dagster, no SQL, no network, and never the simulator's ground
truth. A SQL loader fills :class:`AccountHistory` per account; :meth:`Baselines.fit` learns
what "typical" looks like from the whole population being scored; :func:`score` turns one
history into a :class:`SmurfScore` carrying every component, so a flag can be explained.
Formulas and the reasons behind them: ``docs/smurf-model.md``.

Per-match performance index. Every significant match (ranked or normal lobby, no turbo or
other fun modes) is compared with the typical match of the same *cell*: the player's medal
at that match (bracket), the role they played (lane plus core/support inferred from last
hits a minute) and the result (win or loss, so that the index does not simply repeat the
win rate). Five per-match quantities (kills, deaths, assists a minute, GPM, XPM, on a log
scale, deaths negated) are standardised by the cell's median and robust spread and
averaged: 0 means "as the bracket plays this role", +1 "one typical spread better".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import NDArray

SIGNALS: tuple[str, ...] = (
    "win_rate",
    "kda",
    "account_level",
    "rank_discrepancy",
    "rank_progression",
    "win_rate_trend",
    "performance_consistency",
    "performance_trends",
    "role_performance",
)

RANKED_LOBBY, NORMAL_LOBBY = 7, 0
SIGNIFICANT_LOBBY_TYPES: frozenset[int] = frozenset({NORMAL_LOBBY, RANKED_LOBBY})
# custom, ability draft, event, all-random deathmatch, 1v1 mid, turbo, mutation: stats not comparable
EXCLUDED_GAME_MODES: frozenset[int] = frozenset({15, 18, 19, 20, 21, 23, 24})

CORE_LAST_HITS_PER_MINUTE = 3.0  # supports rarely reach 3 last hits a minute, cores nearly always do
MIN_CELL_MATCHES = 40  # a baseline cell with fewer matches falls back to a pooled cell
_FEATURES = ("kills", "deaths", "assists", "gold_per_min", "xp_per_min")
_SIGN = np.array([1.0, -1.0, 1.0, 1.0, 1.0])  # deaths count against
_N_FEAT = len(_FEATURES)
_KDA = _N_FEAT  # column index of the KDA feature in the feature matrix
_CLIP = 5.0  # standardised residuals are clipped to +-5 spreads (one absurd match cannot dominate)

# Roles: 1 safe-lane core, 2 mid, 3 off-lane core, 4 soft support (off lane or jungle),
# 5 hard support (safe lane), 6 core of unknown lane, 7 support of unknown lane.
ROLE_NAMES = {1: "carry", 2: "mid", 3: "offlane", 4: "soft_support", 5: "hard_support", 6: "core", 7: "support"}


class NotEnoughMatches(ValueError):
    """Raised by :func:`score` with ``strict=True`` for an account below ``min_matches``."""


# ---------------------------------------------------------------------- inputs
def epoch_seconds(value: int | float | datetime | None) -> float | None:
    """Unix seconds from an int/float or a (timezone-aware) datetime; None stays None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)


@dataclass(frozen=True, slots=True)
class MatchRow:
    """One detailed match of the account: ``match_players`` joined to ``matches``.

    ``start_time`` is unix seconds or a datetime; ``rank_tier`` is the medal the provider sent
    with the match (None or 0: unknown), which for OpenDota is the player's medal when the match
    was fetched, not at the match: the medal at the match comes from the account's rank history
    (``AccountHistory.rank_snapshots``) where it covers the match; ``lane_role`` is OpenDota's
    lane (1 safe, 2 mid, 3 off, 4 jungle; None when unparsed).
    """

    match_id: int
    start_time: int | float | datetime
    duration: int
    lobby_type: int
    game_mode: int
    hero_id: int
    is_radiant: bool
    win: bool
    kills: int
    deaths: int
    assists: int
    gold_per_min: int
    xp_per_min: int
    last_hits: int
    denies: int = 0
    net_worth: int | None = None
    hero_damage: int | None = None
    lane_role: int | None = None
    rank_tier: int | None = None


@dataclass(frozen=True, slots=True)
class RankSnapshot:
    """A row of ``rank_snapshots``: the medal observed at a moment."""

    observed_at: int | float | datetime
    rank_tier: int | None


@dataclass(frozen=True, slots=True)
class AccountHistory:
    """Everything the scorer reads about one account.

    ``matches``: its detailed matches (any order; the loader may cap them, e.g. newest 100).
    ``rank_tier`` / ``leaderboard_rank``: the profile now (``accounts``).
    ``total_games`` / ``distinct_heroes``: ``sum(hero_stats.matches)`` and ``count(*)``.
    ``first_match_time``: first match ever when a provider tells it (else the oldest known match).
    """

    account_id: int
    matches: Sequence[MatchRow]
    rank_tier: int | None = None
    leaderboard_rank: int | None = None
    rank_snapshots: Sequence[RankSnapshot] = ()
    total_games: int | None = None
    distinct_heroes: int | None = None
    first_match_time: int | float | datetime | None = None


# ---------------------------------------------------------------------- model
# Tuned on simulator seed 1 (coordinate search, each weight in [0.02, 0.25], then rounded);
# seeds 2 and 3 held out. See docs/smurf-model.md for the figures and the a-priori v0 weights.
DEFAULT_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {
        "win_rate": 0.10,
        "kda": 0.03,
        "account_level": 0.22,
        "rank_discrepancy": 0.06,
        "rank_progression": 0.20,
        "win_rate_trend": 0.02,
        "performance_consistency": 0.20,
        "performance_trends": 0.02,
        "role_performance": 0.15,
    }
)
DEFAULT_THRESHOLD = 0.60


@dataclass(frozen=True)
class SmurfModel:
    """Weights (by signal name, normalised to sum 1), threshold on the total, version tag.

    A signal left out of ``weights`` has weight 0. Unknown names, negative or non-finite
    weights, an all-zero weight vector or a threshold outside [0, 1] raise ``ValueError``.
    """

    version: str = "smurf-v1"
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    threshold: float = DEFAULT_THRESHOLD
    min_matches: int = 20
    max_matches: int = 100  # newest significant matches used per account

    def __post_init__(self) -> None:
        unknown = sorted(set(self.weights) - set(SIGNALS))
        if unknown:
            raise ValueError(f"unknown smurf signal(s) {unknown}; known signals: {list(SIGNALS)}")
        for name, w in self.weights.items():
            if not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
                raise ValueError(f"weight of {name!r} must be a finite number >= 0, got {w!r}")
        if sum(self.weights.values()) <= 0:
            raise ValueError("at least one smurf signal needs a positive weight")
        if not (isinstance(self.threshold, (int, float)) and 0.0 <= self.threshold <= 1.0):
            raise ValueError(f"threshold must be within [0, 1], got {self.threshold!r}")
        if self.min_matches < 2:
            raise ValueError("min_matches must be at least 2")
        if self.max_matches < self.min_matches:
            raise ValueError("max_matches must be >= min_matches")
        object.__setattr__(self, "weights", MappingProxyType(dict(self.weights)))

    def normalized_weights(self) -> dict[str, float]:
        total = float(sum(self.weights.values()))
        return {name: float(self.weights.get(name, 0.0)) / total for name in SIGNALS}


DEFAULT_MODEL = SmurfModel()


@dataclass(frozen=True)
class SmurfScore:
    """One account's verdict with every component (a row of ``smurf_scores``)."""

    account_id: int
    model_version: str
    signals: Mapping[str, float]
    total_score: float
    threshold: float
    is_smurf: bool
    matches_used: int
    weights: Mapping[str, float]

    def contributions(self) -> dict[str, float]:
        """Each signal's share of the total (normalised weight x signal), largest first."""
        total_w = sum(self.weights.values()) or 1.0
        parts = {k: self.weights.get(k, 0.0) / total_w * v for k, v in self.signals.items()}
        return dict(sorted(parts.items(), key=lambda kv: -kv[1]))

    def as_row(self) -> dict[str, Any]:
        """Column -> value for ``smurf_scores`` (without batch_key / scored_at)."""
        return {
            "account_id": self.account_id,
            "model_version": self.model_version,
            **{k: float(self.signals[k]) for k in SIGNALS},
            "total_score": float(self.total_score),
            "threshold": float(self.threshold),
            "is_smurf": bool(self.is_smurf),
            "weights": dict(self.weights),
            "matches_used": int(self.matches_used),
        }


# ---------------------------------------------------------------------- helpers
def ramp(x: float, lo: float, hi: float) -> float:
    """Linear map of ``x`` from [lo, hi] onto [0, 1], clipped; ``lo > hi`` gives a falling ramp.

    NaN maps to 0 (no evidence)."""
    if x != x or lo == hi:  # NaN
        return 0.0
    return float(min(1.0, max(0.0, (x - lo) / (hi - lo))))


def rank_index(rank_tier: int | None) -> int | None:
    """Medal tier -> stars above Herald 1 (Herald 1 = 0 ... Divine 5 = 34, Immortal = 35).

    None, 0 and malformed tiers give None."""
    if rank_tier is None:
        return None
    t = int(rank_tier)
    if t // 10 == 8:
        return 35
    medal, star = divmod(t, 10)
    if not (1 <= medal <= 7) or not (0 <= star <= 5):
        return None
    return (medal - 1) * 5 + max(star, 1) - 1


def bracket_of(rank_tier: int | None) -> int:
    """Medal 1..8 (8 = Immortal) or 0 when unknown."""
    if rank_tier is None or int(rank_tier) <= 0:
        return 0
    medal = int(rank_tier) // 10
    return medal if 1 <= medal <= 8 else 0


def infer_role(lane_role: int | None, last_hits: int, duration: int) -> int:
    """Role code (see ``ROLE_NAMES``) from lane and last hits a minute.

    Position is not stored, but lane plus farm pins it down: a safe-lane player with many
    last hits is the carry, one with few is the hard support; off lane likewise."""
    minutes = max(int(duration), 600) / 60.0
    core = last_hits / minutes >= CORE_LAST_HITS_PER_MINUTE
    if lane_role == 1:
        return 1 if core else 5
    if lane_role == 2:
        return 2
    if lane_role == 3:
        return 3 if core else 4
    if lane_role == 4:
        return 1 if core else 4
    return 6 if core else 7


def significant(match: MatchRow) -> bool:
    """Ranked or normal lobby, a regular game mode, and a real game (>= 10 minutes)."""
    return (
        int(match.lobby_type) in SIGNIFICANT_LOBBY_TYPES
        and int(match.game_mode) not in EXCLUDED_GAME_MODES
        and int(match.duration) >= 600
    )


@dataclass(frozen=True, slots=True)
class MatchFeatures:
    """Columnar view of the matches a score uses, oldest first."""

    start_time: NDArray[np.float64]
    win: NDArray[np.bool_]
    role: NDArray[np.int64]
    bracket: NDArray[np.int64]
    rank_index: NDArray[np.float64]  # NaN when unknown
    values: NDArray[np.float64]  # (n, 6): 5 performance features + KDA, log scale

    def __len__(self) -> int:
        return int(self.win.shape[0])


def medals_at(snapshots: Sequence[RankSnapshot], times: NDArray[np.float64]) -> list[int | None]:
    """The medal at each of ``times``: that of the latest snapshot at or before it (the history
    says the medal changed then), None before the first known one or where none is known."""
    known = sorted((t, snap.rank_tier) for snap in snapshots
                   if snap.rank_tier and (t := epoch_seconds(snap.observed_at)) is not None)
    if not known:
        return [None] * len(times)
    at = np.searchsorted(np.array([t for t, _ in known]), times, side="right") - 1
    return [known[i][1] if i >= 0 else None for i in at.tolist()]


def match_features(history: AccountHistory, model: SmurfModel = DEFAULT_MODEL) -> MatchFeatures:
    """The newest ``model.max_matches`` significant matches as arrays, oldest first."""
    rows = [m for m in history.matches if significant(m)]
    rows.sort(key=lambda m: (epoch_seconds(m.start_time) or 0.0, m.match_id))
    rows = rows[-model.max_matches :]
    n = len(rows)
    start = np.array([epoch_seconds(m.start_time) or 0.0 for m in rows], dtype=np.float64)
    win = np.array([bool(m.win) for m in rows], dtype=np.bool_)
    role = np.array([infer_role(m.lane_role, m.last_hits, m.duration) for m in rows], dtype=np.int64)
    at_start = medals_at(history.rank_snapshots, start)
    fallback = history.rank_tier
    tiers = [medal or m.rank_tier or fallback for medal, m in zip(at_start, rows, strict=True)]
    bracket = np.array([bracket_of(t) for t in tiers], dtype=np.int64)
    ridx = np.array([np.nan if (r := rank_index(medal)) is None else r for medal in at_start], dtype=np.float64)
    raw = np.array(
        [(m.kills, m.deaths, m.assists, m.gold_per_min, m.xp_per_min, m.duration) for m in rows],
        dtype=np.float64,
    ).reshape(n, 6)
    minutes = np.maximum(raw[:, 5], 600.0) / 60.0
    values = np.empty((n, _N_FEAT + 1), dtype=np.float64)
    values[:, 0:3] = np.log((np.maximum(raw[:, 0:3], 0.0) + 0.5) / minutes[:, None])
    values[:, 3:5] = np.log(np.maximum(raw[:, 3:5], 0.0) + 1.0)
    values[:, _KDA] = np.log((np.maximum(raw[:, 0], 0) + np.maximum(raw[:, 2], 0) + 1.0) / (np.maximum(raw[:, 1], 0) + 1.0))
    return MatchFeatures(start, win, role, bracket, ridx, values)


def _cell_key(bracket: NDArray[np.int64], role: NDArray[np.int64], win: NDArray[np.bool_]) -> NDArray[np.int64]:
    return bracket * 100 + role * 10 + win.astype(np.int64)


def _robust_center_scale(x: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Median and IQR/1.349 (a normal's sd) per column; the scale never drops below 0.05."""
    q25, q50, q75 = np.percentile(x, [25, 50, 75], axis=0)
    return q50, np.maximum((q75 - q25) / 1.349, 0.05)


# ---------------------------------------------------------------------- baselines
@dataclass(frozen=True)
class Baselines:
    """What typical looks like, fitted on the population being scored (see :meth:`fit`).

    ``cells``: cell key (bracket*100 + role*10 + win) -> (center, scale) of the six match
    features; pooled cells use bracket 0 (all brackets) and role 0 (all roles).
    ``accounts``: robust (center, scale) of per-account statistics across accounts.
    """

    cells: Mapping[int, tuple[tuple[float, ...], tuple[float, ...]]]
    accounts: Mapping[str, tuple[float, float]]
    matches_fitted: int
    accounts_fitted: int

    @classmethod
    def fit(cls, histories: Iterable[AccountHistory], model: SmurfModel = DEFAULT_MODEL) -> Baselines:
        """Fit match-cell baselines on every significant match of every history, then the
        spread of account-level statistics over the accounts the model would score."""
        feats = [match_features(h, model) for h in histories]
        return cls.fit_features(feats, model)

    @classmethod
    def fit_features(cls, feats: Sequence[MatchFeatures], model: SmurfModel = DEFAULT_MODEL) -> Baselines:
        nonempty = [f for f in feats if len(f)]
        if not nonempty:
            raise ValueError("cannot fit smurf baselines: no significant matches")
        values = np.concatenate([f.values for f in nonempty])
        bracket = np.concatenate([f.bracket for f in nonempty])
        role = np.concatenate([f.role for f in nonempty])
        win = np.concatenate([f.win for f in nonempty])
        cells: dict[int, tuple[tuple[float, ...], tuple[float, ...]]] = {}
        for level in range(3):  # 0: bracket x role x win, 1: role x win, 2: win
            b = bracket if level == 0 else np.zeros_like(bracket)
            r = role if level <= 1 else np.zeros_like(role)
            keys = _cell_key(b, r, win)
            order = np.argsort(keys, kind="stable")
            uniq, starts = np.unique(keys[order], return_index=True)
            bounds = list(starts) + [keys.size]
            for j, key in enumerate(uniq.tolist()):
                chunk = values[order[bounds[j] : bounds[j + 1]]]
                if chunk.shape[0] < MIN_CELL_MATCHES and level < 2:
                    continue
                c, s = _robust_center_scale(chunk)
                cells[int(key)] = (tuple(map(float, c)), tuple(map(float, s)))
        provisional = cls(cells=cells, accounts={}, matches_fitted=int(values.shape[0]), accounts_fitted=0)
        stats = [_account_stats(f, provisional) for f in nonempty if len(f) >= model.min_matches]
        if not stats:  # tiny populations: use everyone with at least two matches
            stats = [_account_stats(f, provisional) for f in nonempty if len(f) >= 2]
        accounts: dict[str, tuple[float, float]] = {}
        for name in ("perf_mean", "perf_sd", "kda_mean"):
            col = np.array([s[name] for s in stats], dtype=np.float64)
            col = col[np.isfinite(col)]
            if col.size == 0:
                accounts[name] = (0.0, 1.0)
                continue
            c, s = _robust_center_scale(col[:, None])
            accounts[name] = (float(c[0]), float(s[0]))
        return cls(cells=cells, accounts=accounts, matches_fitted=int(values.shape[0]), accounts_fitted=len(stats))

    def lookup(self, bracket: NDArray[np.int64], role: NDArray[np.int64], win: NDArray[np.bool_], pool_brackets: bool = False) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(center, scale) arrays (n, 6) for each match, falling back to pooled cells."""
        n = bracket.shape[0]
        center = np.full((n, _N_FEAT + 1), np.nan)  # no cell at all: residual 0 (neutral)
        scale = np.ones((n, _N_FEAT + 1))
        b = np.zeros_like(bracket) if pool_brackets else bracket
        for i, key in enumerate(_cell_key(b, role, win).tolist()):
            cell = self.cells.get(key) or self.cells.get(key % 100) or self.cells.get(key % 10)
            if cell is not None:
                center[i], scale[i] = cell
        return center, scale

    def to_dict(self) -> dict[str, Any]:
        return {
            "cells": {str(k): [list(c), list(s)] for k, (c, s) in self.cells.items()},
            "accounts": {k: list(v) for k, v in self.accounts.items()},
            "matches_fitted": self.matches_fitted,
            "accounts_fitted": self.accounts_fitted,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Baselines:
        return cls(
            cells={int(k): (tuple(v[0]), tuple(v[1])) for k, v in data["cells"].items()},
            accounts={k: (float(v[0]), float(v[1])) for k, v in data["accounts"].items()},
            matches_fitted=int(data["matches_fitted"]),
            accounts_fitted=int(data["accounts_fitted"]),
        )


def performance_index(feats: MatchFeatures, baselines: Baselines) -> NDArray[np.float64]:
    """Per-match index: mean standardised residual of the five features against the cell."""
    if len(feats) == 0:
        return np.zeros(0)
    center, scale = baselines.lookup(feats.bracket, feats.role, feats.win)
    z = np.clip((feats.values[:, :_N_FEAT] - center[:, :_N_FEAT]) / scale[:, :_N_FEAT], -_CLIP, _CLIP)
    return np.nan_to_num(z * _SIGN, nan=0.0).mean(axis=1)


def kda_residual(feats: MatchFeatures, baselines: Baselines) -> NDArray[np.float64]:
    """Per-match log-KDA against the role and result, all brackets pooled (standardised)."""
    if len(feats) == 0:
        return np.zeros(0)
    center, scale = baselines.lookup(feats.bracket, feats.role, feats.win, pool_brackets=True)
    z = np.clip((feats.values[:, _KDA] - center[:, _KDA]) / scale[:, _KDA], -_CLIP, _CLIP)
    return np.nan_to_num(z, nan=0.0)


def _account_stats(feats: MatchFeatures, baselines: Baselines) -> dict[str, float]:
    perf = performance_index(feats, baselines)
    kda = kda_residual(feats, baselines)
    return {
        "perf_mean": float(perf.mean()) if perf.size else float("nan"),
        "perf_sd": float(perf.std(ddof=1)) if perf.size >= 2 else float("nan"),
        "kda_mean": float(kda.mean()) if kda.size else float("nan"),
    }


def _standardise(baselines: Baselines, name: str, value: float) -> float:
    center, scale = baselines.accounts.get(name, (0.0, 1.0))
    return (value - center) / (scale if scale > 0 else 1.0)


def _halves(x: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any]]:
    h = x.shape[0] // 2
    return x[:h], x[x.shape[0] - h :]


# ---------------------------------------------------------------------- the nine signals
def win_rate_signal(win: NDArray[np.bool_]) -> float:
    """Win rate shrunk towards 50% by 10 pseudo-games, ramped 50% -> 0, 70% -> 1."""
    n = int(win.shape[0])
    smoothed = (float(win.sum()) + 5.0) / (n + 10.0)
    return ramp(smoothed, 0.5, 0.7)


def kda_signal(feats: MatchFeatures, baselines: Baselines) -> float:
    """Mean log-KDA residual (vs role and result), in population spreads, ramped 0 -> 3."""
    kda = kda_residual(feats, baselines)
    if kda.size == 0:
        return 0.0
    return ramp(_standardise(baselines, "kda_mean", float(kda.mean())), 0.0, 3.0)


def account_level_signal(history: AccountHistory, feats: MatchFeatures) -> float:
    """Newness of the account: half lifetime games (<=20 -> 1, >=1000 -> 0, log scale),
    half career length in days from the first known match to the newest (<=30 -> 1, >=365 -> 0)."""
    games = max(int(history.total_games or 0), len(history.matches), 1)
    games_term = ramp(math.log(games), math.log(1000.0), math.log(20.0))
    times = [t for m in history.matches if (t := epoch_seconds(m.start_time)) is not None]
    first = epoch_seconds(history.first_match_time)
    if first is None:
        first = min(times) if times else None
    newest = max(times) if times else None
    if first is None or newest is None:
        return games_term
    days = max(0.0, newest - first) / 86_400.0
    return 0.5 * games_term + 0.5 * ramp(days, 365.0, 30.0)


def rank_discrepancy_signal(perf: NDArray[np.float64], baselines: Baselines) -> float:
    """How far the account plays above its own medal: mean performance index in population
    spreads of that mean, ramped +1 -> 0, +4 -> 1."""
    if perf.size == 0:
        return 0.0
    return ramp(_standardise(baselines, "perf_mean", float(perf.mean())), 1.0, 4.0)


def rank_progression_signal(history: AccountHistory, feats: MatchFeatures) -> float:
    """Speed of the climb: stars gained from the lowest to the latest known medal (per-match
    tiers and rank snapshots merged), per 10 games played in between; 0 -> 0, 1 star/10 games -> 1.
    A climb below one star or without two known ranks is 0."""
    points: list[tuple[float, float]] = []
    for t, r in zip(feats.start_time.tolist(), feats.rank_index.tolist(), strict=True):
        if r == r:
            points.append((t, r))
    for snap in history.rank_snapshots:
        r = rank_index(snap.rank_tier)
        t = epoch_seconds(snap.observed_at)
        if r is not None and t is not None:
            points.append((t, float(r)))
    if len(points) < 2:
        return 0.0
    points.sort()
    ranks = np.array([p[1] for p in points])
    low_at = int(np.argmin(ranks))
    rise = float(ranks[-1] - ranks[low_at])
    if rise < 1.0:
        return 0.0
    t0, t1 = points[low_at][0], points[-1][0]
    games = int(((feats.start_time >= t0) & (feats.start_time <= t1)).sum())
    return ramp(rise / max(games, 10) * 10.0, 0.0, 1.0)


def win_rate_trend_signal(win: NDArray[np.bool_]) -> float:
    """Newer half's win rate minus the older half's, ramped 0 -> 0, +30 points -> 1."""
    old, new = _halves(win.astype(np.float64))
    if old.size == 0:
        return 0.0
    return ramp(float(new.mean() - old.mean()), 0.0, 0.3)


def performance_consistency_signal(perf: NDArray[np.float64], baselines: Baselines) -> float:
    """Steadiness: how many population spreads the match-to-match sd of the performance
    index sits *below* the typical account's, ramped 0 -> 0, 3 -> 1."""
    if perf.size < 2:
        return 0.0
    return ramp(-_standardise(baselines, "perf_sd", float(perf.std(ddof=1))), 0.0, 3.0)


def performance_trends_signal(perf: NDArray[np.float64], baselines: Baselines) -> float:
    """Newer half's mean performance index minus the older half's, in typical per-match sds,
    ramped 0 -> 0, 0.5 -> 1."""
    old, new = _halves(perf)
    if old.size == 0:
        return 0.0
    typical_sd = max(baselines.accounts.get("perf_sd", (1.0, 1.0))[0], 1e-6)
    return ramp(float(new.mean() - old.mean()) / typical_sd, 0.0, 0.5)


def role_performance_signal(perf: NDArray[np.float64], role: NDArray[np.int64], baselines: Baselines, min_games: int = 3) -> float:
    """Strength across roles: the mean, over every role played at least ``min_games`` times,
    of that role's performance (in population spreads of the account mean) ramped +1 -> 0,
    +4 -> 1. Real players have a comfort role; someone far above their bracket is above it
    on whatever they pick."""
    if perf.size == 0:
        return 0.0
    values = []
    for r in np.unique(role).tolist():
        sel = role == r
        if int(sel.sum()) >= min_games:
            values.append(ramp(_standardise(baselines, "perf_mean", float(perf[sel].mean())), 1.0, 4.0))
    return float(np.mean(values)) if values else 0.0


def signals(
    history: AccountHistory, baselines: Baselines, model: SmurfModel = DEFAULT_MODEL, features: MatchFeatures | None = None
) -> tuple[dict[str, float], int]:
    """All nine signals (each in [0, 1]) and the number of matches they used.

    ``features`` may pass ``match_features(history, model)`` already computed (e.g. for the fit)."""
    feats = features if features is not None else match_features(history, model)
    perf = performance_index(feats, baselines)
    out = {
        "win_rate": win_rate_signal(feats.win),
        "kda": kda_signal(feats, baselines),
        "account_level": account_level_signal(history, feats),
        "rank_discrepancy": rank_discrepancy_signal(perf, baselines),
        "rank_progression": rank_progression_signal(history, feats),
        "win_rate_trend": win_rate_trend_signal(feats.win),
        "performance_consistency": performance_consistency_signal(perf, baselines),
        "performance_trends": performance_trends_signal(perf, baselines),
        "role_performance": role_performance_signal(perf, feats.role, baselines),
    }
    return {k: (v if math.isfinite(v) else 0.0) for k, v in out.items()}, len(feats)


def total_score(values: Mapping[str, float], model: SmurfModel = DEFAULT_MODEL) -> float:
    """Weighted mean of the signals with the model's normalised weights (in [0, 1])."""
    w = model.normalized_weights()
    return float(min(1.0, max(0.0, sum(w[k] * float(values.get(k, 0.0)) for k in SIGNALS))))


def score(
    history: AccountHistory,
    baselines: Baselines,
    model: SmurfModel = DEFAULT_MODEL,
    *,
    strict: bool = False,
    features: MatchFeatures | None = None,
) -> SmurfScore | None:
    """Score one account, or None when it has fewer than ``model.min_matches`` significant
    matches (``strict=True`` raises :class:`NotEnoughMatches` instead)."""
    values, used = signals(history, baselines, model, features)
    if used < model.min_matches:
        if strict:
            raise NotEnoughMatches(
                f"account {history.account_id} has {used} significant matches; the model needs {model.min_matches}"
            )
        return None
    total = total_score(values, model)
    return SmurfScore(
        account_id=int(history.account_id),
        model_version=model.version,
        signals=MappingProxyType(values),
        total_score=total,
        threshold=float(model.threshold),
        is_smurf=total >= model.threshold,
        matches_used=used,
        weights=MappingProxyType(model.normalized_weights()),
    )


def score_many(histories: Iterable[AccountHistory], model: SmurfModel = DEFAULT_MODEL, baselines: Baselines | None = None) -> tuple[Baselines, list[SmurfScore]]:
    """Fit baselines on the histories (unless given) and score every account that qualifies."""
    hs = list(histories)
    feats = [match_features(h, model) for h in hs]
    fitted = baselines if baselines is not None else Baselines.fit_features(feats, model)
    out = [s for h, f in zip(hs, feats, strict=True) if (s := score(h, fitted, model, features=f)) is not None]
    return fitted, out

"""The smurf model: each signal's behaviour, bounds, the model's validation and determinism,
and a quality floor on a small simulator world (the only place the ground truth is read)."""

from __future__ import annotations

import importlib.util
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawl_pipeline.domain import smurf
from crawl_pipeline.domain.smurf import (
    DEFAULT_MODEL,
    SIGNALS,
    AccountHistory,
    Baselines,
    MatchRow,
    NotEnoughMatches,
    RankSnapshot,
    SmurfModel,
    infer_role,
    match_features,
    ramp,
    rank_index,
    score,
    score_many,
    signals,
)

DAY = 86_400
T0 = 1_720_000_000


def mrow(i: int, *, win: bool = True, k: int = 6, d: int = 5, a: int = 9, gpm: int = 450, xpm: int = 520,
         lh: int = 150, lane: int | None = 1, tier: int | None = 33, lobby: int = 7, mode: int = 22,
         duration: int = 2400, start: int | None = None) -> MatchRow:  # fmt: skip
    return MatchRow(
        match_id=1000 + i, start_time=T0 + i * DAY if start is None else start, duration=duration, lobby_type=lobby,
        game_mode=mode, hero_id=1 + i % 5, is_radiant=i % 2 == 0, win=win, kills=k, deaths=d, assists=a,
        gold_per_min=gpm, xp_per_min=xpm, last_hits=lh, denies=5, lane_role=lane, rank_tier=tier,
    )  # fmt: skip


def population(seed: int = 0, accounts: int = 60, games: int = 40) -> list[AccountHistory]:
    """Honest-looking random players: noisy stats around the same means, 50% wins."""
    rng = np.random.default_rng(seed)
    out = []
    for acc in range(accounts):
        tier = int(rng.integers(1, 8)) * 10 + int(rng.integers(1, 6))
        rows = []
        for i in range(games):
            win = bool(rng.random() < 0.5)
            f = math.exp(rng.normal(0, 0.3) + (0.2 if win else -0.2))
            rows.append(
                mrow(i, win=win, k=int(6 * f), d=int(6 / f), a=int(9 * f), gpm=int(450 * f ** 0.5), xpm=int(520 * f ** 0.5),
                     lh=int(150 * f ** 0.5), lane=int(rng.integers(1, 4)), tier=tier)
            )
        out.append(AccountHistory(account_id=10_000 + acc, matches=rows, rank_tier=tier, total_games=600))
    return out


@pytest.fixture(scope="module")
def baselines() -> Baselines:
    return Baselines.fit(population())


def honest(n: int = 40, **kw) -> AccountHistory:
    rows = [mrow(i, win=i % 2 == 0) for i in range(n)]
    return AccountHistory(account_id=1, matches=rows, rank_tier=33, total_games=kw.get("total_games", 800))


# ---------------------------------------------------------------------- helpers
def test_ramp_and_rank_index():
    assert ramp(5, 0, 10) == 0.5 and ramp(-1, 0, 10) == 0.0 and ramp(11, 0, 10) == 1.0
    assert ramp(5, 10, 0) == 0.5 and ramp(float("nan"), 0, 1) == 0.0
    assert rank_index(11) == 0 and rank_index(15) == 4 and rank_index(21) == 5 and rank_index(75) == 34
    assert rank_index(80) == 35 and rank_index(None) is None and rank_index(0) is None and rank_index(99) is None


def test_roles_from_lane_and_farm():
    assert infer_role(1, 300, 2400) == 1  # 7.5 last hits a minute in the safe lane: carry
    assert infer_role(1, 20, 2400) == 5  # hard support
    assert infer_role(3, 200, 2400) == 3 and infer_role(3, 30, 2400) == 4
    assert infer_role(2, 10, 2400) == 2 and infer_role(None, 250, 2400) == 6 and infer_role(None, 5, 2400) == 7


def test_only_significant_matches_count_newest_first_capped():
    rows = [mrow(i) for i in range(30)] + [mrow(100, mode=23), mrow(101, lobby=1), mrow(102, duration=300)]
    h = AccountHistory(account_id=1, matches=rows)
    assert len(match_features(h)) == 30
    capped = match_features(h, SmurfModel(min_matches=10, max_matches=12))
    assert len(capped) == 12 and capped.start_time[0] == T0 + 18 * DAY  # the newest 12, oldest first


# ---------------------------------------------------------------------- each signal
def test_win_rate_is_monotonic_and_shrunk():
    wins = lambda k, n: smurf.win_rate_signal(np.array([True] * k + [False] * (n - k)))
    values = [wins(k, 40) for k in range(0, 41, 4)]
    assert values == sorted(values) and values[0] == 0.0 and values[-1] == 1.0
    assert wins(20, 40) == 0.0
    assert wins(5, 5) < wins(40, 40)  # five wins out of five is weaker evidence


def test_kda_signal_rises_with_kills_and_survives_zero_deaths(baselines):
    def acc(k, d):
        return AccountHistory(1, [mrow(i, win=i % 2 == 0, k=k, d=d) for i in range(30)], rank_tier=33)

    vals = [signals(acc(k, 5), baselines)[0]["kda"] for k in (2, 6, 12, 20)]
    assert vals == sorted(vals) and vals[-1] > vals[0]
    zero = signals(acc(15, 0), baselines)[0]
    assert zero["kda"] == 1.0 and all(0.0 <= v <= 1.0 and math.isfinite(v) for v in zero.values())


def test_account_level_prefers_new_short_careers():
    young = AccountHistory(1, [mrow(i, start=T0 + i * 3600) for i in range(25)], total_games=25)
    veteran = AccountHistory(1, [mrow(i, start=T0 + i * 30 * DAY) for i in range(25)], total_games=4000)
    mid = AccountHistory(1, [mrow(i, start=T0 + i * 5 * DAY) for i in range(25)], total_games=300)
    lv = lambda h: smurf.account_level_signal(h, match_features(h))
    assert lv(young) > 0.95 and lv(veteran) == 0.0 and 0.0 < lv(mid) < 1.0
    # total_games unknown: the matches themselves are the lower bound; a provider's first match wins
    dated = AccountHistory(1, young.matches, first_match_time=datetime(2020, 1, 1, tzinfo=UTC))
    assert lv(dated) < lv(AccountHistory(1, young.matches))


def test_rank_discrepancy_rises_with_performance_above_bracket(baselines):
    def acc(f):
        return AccountHistory(1, [mrow(i, win=i % 2 == 0, k=int(6 * f), d=max(0, int(6 / f)), a=int(9 * f),
                                       gpm=int(450 * f), xpm=int(520 * f), lh=int(150 * f)) for i in range(30)], rank_tier=33)  # fmt: skip

    vals = [signals(acc(f), baselines)[0]["rank_discrepancy"] for f in (0.7, 1.0, 1.6, 2.5)]
    assert vals == sorted(vals) and vals[0] == 0.0 and vals[-1] > 0.5


def test_rank_discrepancy_is_relative_to_the_medal():
    """The same numbers are ordinary in a high bracket and outstanding in a low one."""
    rng = np.random.default_rng(3)
    pop = []
    for acc in range(80):
        low = acc % 2 == 0
        scale = 0.7 if low else 1.3
        rows = [mrow(i, win=i % 2 == 0, k=int(6 * scale * math.exp(rng.normal(0, .2))), a=int(9 * scale),
                     gpm=int(450 * scale * math.exp(rng.normal(0, .1))), xpm=int(520 * scale), lh=300, tier=15 if low else 65)
                for i in range(30)]  # fmt: skip
        pop.append(AccountHistory(acc, rows, rank_tier=15 if low else 65))
    b = Baselines.fit(pop)
    same = [mrow(i, win=i % 2 == 0, k=int(6 * 1.3), a=int(9 * 1.3), gpm=int(450 * 1.3), xpm=int(520 * 1.3), lh=300) for i in range(30)]  # fmt: skip
    as_herald = signals(AccountHistory(1, [smurf.MatchRow(**{**_asdict(m), "rank_tier": 15}) for m in same]), b)[0]
    as_ancient = signals(AccountHistory(1, [smurf.MatchRow(**{**_asdict(m), "rank_tier": 65}) for m in same]), b)[0]
    assert as_herald["rank_discrepancy"] > 0.5 > as_ancient["rank_discrepancy"]


def _asdict(m: MatchRow) -> dict:
    return {name: getattr(m, name) for name in MatchRow.__slots__}


def test_rank_progression_from_the_rank_history():
    """The climb is read from the medal history; a match's own tier is the medal when it was fetched
    (OpenDota's is the player's today), so tiers that differ from match to match alone show none."""
    def acc(changes, tiers=None):
        rows = [mrow(i, tier=None if tiers is None else tiers[i]) for i in range(30)]
        return AccountHistory(1, rows, rank_snapshots=[RankSnapshot(T0 + day * DAY, t) for day, t in changes])

    prog = lambda h: smurf.rank_progression_signal(h, match_features(h))
    assert prog(acc([(0, 22)])) == 0.0
    assert prog(acc([])) == 0.0  # missing rank: no evidence, no crash
    slow = acc([(0, 22), (15, 23)])
    fast = acc([(0, 11), (5, 12), (10, 13), (15, 14), (20, 15), (25, 21)])
    assert 0.0 < prog(slow) < prog(fast) == 1.0
    assert prog(acc([(0, 35), (15, 31)])) == 0.0  # falling
    assert prog(acc([], tiers=[11] * 5 + [12] * 5 + [13] * 5 + [14] * 5 + [15] * 5 + [21] * 5)) == 0.0


def test_the_medal_at_a_match_comes_from_the_history_then_the_match_then_the_profile():
    rows = [mrow(i, tier=45) for i in range(4)]
    history = AccountHistory(1, rows, rank_tier=55, rank_snapshots=[RankSnapshot(T0 + DAY, 13), RankSnapshot(T0 + 3 * DAY, 21)])
    feats = match_features(history)
    # match 0 came before the history: the tier sent with it; 1-2 Herald 3; 3 Guardian 1
    assert feats.bracket.tolist() == [smurf.bracket_of(45), smurf.bracket_of(13), smurf.bracket_of(13), smurf.bracket_of(21)]
    assert np.isnan(feats.rank_index[0]) and feats.rank_index[1:].tolist() == [smurf.rank_index(13)] * 2 + [smurf.rank_index(21)]
    bare = match_features(AccountHistory(1, [mrow(0, tier=None)], rank_tier=55))
    assert bare.bracket.tolist() == [smurf.bracket_of(55)]


def test_trends_compare_newer_and_older_halves(baselines):
    rising = np.array([False] * 10 + [True] * 10 + [True] * 20)
    assert smurf.win_rate_trend_signal(rising[::-1]) == 0.0
    assert smurf.win_rate_trend_signal(rising) > 0.5
    perf = np.concatenate([np.zeros(20), np.ones(20)])
    assert smurf.performance_trends_signal(perf, baselines) == 1.0
    assert smurf.performance_trends_signal(perf[::-1], baselines) == 0.0


def test_consistency_prefers_steady_players(baselines):
    rng = np.random.default_rng(0)
    typical = baselines.accounts["perf_sd"][0]
    steady = smurf.performance_consistency_signal(rng.normal(0, typical * 0.3, 60), baselines)
    erratic = smurf.performance_consistency_signal(rng.normal(0, typical * 1.5, 60), baselines)
    assert steady > erratic == 0.0


def test_role_performance_needs_strength_on_every_role(baselines):
    scale = baselines.accounts["perf_mean"][1]
    centre = baselines.accounts["perf_mean"][0]
    role = np.array([1] * 10 + [5] * 10)
    everywhere = np.full(20, centre + 5 * scale)
    one_role = np.concatenate([np.full(10, centre + 5 * scale), np.full(10, centre)])
    assert smurf.role_performance_signal(everywhere, role, baselines) == 1.0
    assert smurf.role_performance_signal(one_role, role, baselines) == 0.5
    assert smurf.role_performance_signal(everywhere[:2], role[:2], baselines) == 0.0  # too few games per role


# ---------------------------------------------------------------------- bounds (hypothesis)
match_rows = st.builds(
    MatchRow,
    match_id=st.integers(1, 10**10),
    start_time=st.integers(T0, T0 + 400 * DAY),
    duration=st.integers(0, 6000),
    lobby_type=st.sampled_from([0, 7, 1]),
    game_mode=st.sampled_from([22, 2, 23]),
    hero_id=st.integers(1, 300),
    is_radiant=st.booleans(),
    win=st.booleans(),
    kills=st.integers(0, 60),
    deaths=st.integers(0, 40),
    assists=st.integers(0, 60),
    gold_per_min=st.integers(0, 2000),
    xp_per_min=st.integers(0, 2000),
    last_hits=st.integers(0, 1500),
    denies=st.integers(0, 100),
    lane_role=st.one_of(st.none(), st.integers(0, 5)),
    rank_tier=st.one_of(st.none(), st.just(0), st.integers(11, 80)),
)
histories = st.builds(
    AccountHistory,
    account_id=st.integers(1, 2**32 - 2),
    matches=st.lists(match_rows, max_size=60),
    rank_tier=st.one_of(st.none(), st.integers(11, 80)),
    rank_snapshots=st.lists(st.builds(RankSnapshot, st.integers(T0, T0 + 400 * DAY), st.one_of(st.none(), st.integers(0, 80))), max_size=5),
    total_games=st.one_of(st.none(), st.integers(0, 10_000)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories)
def test_every_signal_is_finite_and_within_unit_interval(baselines, history):
    values, used = signals(history, baselines, SmurfModel(min_matches=2))
    assert set(values) == set(SIGNALS)
    assert all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in values.values()), values
    result = score(history, baselines, SmurfModel(min_matches=2))
    if result is None:
        assert used < 2
    else:
        assert 0.0 <= result.total_score <= 1.0 and result.matches_used == used


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(histories, min_size=1, max_size=4))
def test_baselines_fit_on_any_population_or_say_why(pop):
    try:
        b = Baselines.fit(pop)
    except ValueError as exc:
        assert "no significant matches" in str(exc)
        return
    assert Baselines.from_dict(b.to_dict()) == b
    for h in pop:
        values, _ = signals(h, b, SmurfModel(min_matches=2))
        assert all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in values.values())


# ---------------------------------------------------------------------- the model
def test_too_few_matches_are_not_scored(baselines):
    h = honest(19)
    assert score(h, baselines) is None
    with pytest.raises(NotEnoughMatches, match="19 significant matches; the model needs 20"):
        score(h, baselines, strict=True)
    assert score(honest(20), baselines) is not None


def test_weights_are_validated():
    with pytest.raises(ValueError, match=r"unknown smurf signal\(s\) \['winrate'\]"):
        SmurfModel(weights={"winrate": 1.0})
    with pytest.raises(ValueError, match="finite number >= 0"):
        SmurfModel(weights={"kda": -1.0})
    with pytest.raises(ValueError, match="positive weight"):
        SmurfModel(weights={"kda": 0.0})
    with pytest.raises(ValueError, match="threshold"):
        SmurfModel(threshold=1.5)
    m = SmurfModel(weights={"kda": 3.0, "win_rate": 1.0})
    assert m.normalized_weights()["kda"] == 0.75 and m.normalized_weights()["account_level"] == 0.0
    assert abs(sum(DEFAULT_MODEL.normalized_weights().values()) - 1.0) < 1e-9
    with pytest.raises(TypeError):
        m.weights["kda"] = 1.0  # frozen


def test_score_is_deterministic_and_explainable(baselines):
    h = honest(40)
    a, b = score(h, baselines), score(h, Baselines.from_dict(baselines.to_dict()))
    assert a == b and a.model_version == "smurf-v1" and a.threshold == DEFAULT_MODEL.threshold
    row = a.as_row()
    assert set(SIGNALS) <= set(row) and row["is_smurf"] is False and row["matches_used"] == 40
    assert abs(sum(a.contributions().values()) - a.total_score) < 1e-9
    assert not a.is_smurf
    # order of matches does not matter
    assert score(AccountHistory(1, list(reversed(h.matches)), rank_tier=33, total_games=800), baselines) == a


def test_a_sandbagger_outscores_an_honest_player(baselines):
    rows = []
    for i in range(30):
        tier = 11 + min(4, i // 6)
        rows.append(mrow(i, start=T0 + i * 3600, win=i % 4 != 0, k=14, d=2, a=14, gpm=700, xpm=760, lh=260, tier=tier))
    s = score(AccountHistory(1, rows, rank_tier=15, total_games=30), baselines)
    h = score(honest(40), baselines)
    assert s.total_score > h.total_score and s.is_smurf and not h.is_smurf


# ---------------------------------------------------------------------- simulator floor
def _bench():
    path = Path(__file__).resolve().parents[2] / "bench" / "bench_smurf_quality.py"
    spec = importlib.util.spec_from_file_location("bench_smurf_quality", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quality_floor_on_a_small_simulated_world():
    from crawl_pipeline.simulator import SimulatorConfig, World

    world = World.generate(SimulatorConfig(accounts=3000, seed=7))
    histories = _bench().build_histories(world)
    _, scores = score_many(histories)
    truth = {r["account_id"]: r["is_smurf"] for r in world.truth_rows()}
    pred = np.array([s.is_smurf for s in scores])
    real = np.array([truth[s.account_id] for s in scores])
    tp = int((pred & real).sum())
    precision, recall = tp / max(1, pred.sum()), tp / max(1, real.sum())
    assert real.sum() >= 50
    assert precision >= 0.85 and recall >= 0.75, (precision, recall)

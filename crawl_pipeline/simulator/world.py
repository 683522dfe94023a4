"""The simulated Dota world: accounts, their hidden skill, and who played with whom.

Memory model (why it scales to 1M accounts / 10M matches in well under 2 GB):
only compact numpy arrays are kept — per account a few scalars, per match its ten
participants (uint32 account indices, 40 bytes) plus three bytes, and a CSR index from
account to its matches (4 bytes per slot). Everything else a provider returns (heroes,
kills, gold, names, avatars) is derived on demand from (seed, match, slot) by
``crawl_pipeline.simulator.content``.

Matchmaking model: time is split into ``rounds``. In each round an account plays at most
one match. Most matches are *ranked-style*: participants sorted by their visible MMR and
cut into lobbies of ten, teams drafted snake-wise so both sides are even on paper. A share
of matches (``mixed_match_rate``) are *mixed* — parties and unranked queues that ignore
skill — and these random edges make the co-participation graph an expander, so a BFS from
any account covers the population within a few hops. Outcomes are drawn from the players'
*effective* skill, which for a smurf sits far above the MMR used for matchmaking.
"""

from __future__ import annotations

import csv
import json
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from crawl_pipeline.domain.heroes import NORMAL_LOBBY_TYPE, RANKED_LOBBY_TYPE, heroes

from .config import SEED_ACCOUNT_ID, SimulatorConfig
from .hashing import choice_index, hash64_int

KIND_NORMAL, KIND_SMURF, KIND_NEWBIE, KIND_CLIMBER = 0, 1, 2, 3
KIND_NAMES = {KIND_NORMAL: "normal", KIND_SMURF: "smurf", KIND_NEWBIE: "newbie", KIND_CLIMBER: "climber"}

MATCH_ID_BASE = 7_800_000_000
MATCH_ID_STEP = 3
MATCH_SEQ_BASE = 6_550_000_000
MATCH_SEQ_STEP = 2
TEAM_SKILL_SCALE = 1500.0  # team effective-skill difference that makes a 73% favourite
STEAM_ACCOUNT_EPOCH = 1_262_304_000  # 2010-01-01: oldest account creation in the world

_SNAKE = np.array([0, 3, 4, 7, 8, 1, 2, 5, 6, 9])  # radiant takes 1st,4th,5th,8th,9th best
_SEATINGS = np.stack([_SNAKE, np.concatenate([_SNAKE[5:], _SNAKE[:5]])])  # as drafted, sides swapped


def rank_tier_from_mmr(mmr: NDArray[Any]) -> NDArray[np.int64]:
    """Dota medal encoding: tens digit medal 1..7 (Herald..Divine), units star 1..5, 80 Immortal."""
    m = np.clip(np.asarray(mmr, dtype=np.float64), 0, None).astype(np.int64)
    medal = np.minimum(m // 770 + 1, 7)
    star = np.minimum((m - (medal - 1) * 770) // 154 + 1, 5)
    return np.where(m >= 5420, 80, medal * 10 + star)


@dataclass(frozen=True, slots=True)
class AccountArrays:
    """Per-account columns, all indexed by account index (not account id)."""

    account_id: NDArray[np.uint32]
    kind: NDArray[np.uint8]
    base_mmr: NDArray[np.float32]
    rise: NDArray[np.float32]  # MMR gained over the account's active window
    adv0: NDArray[np.float32]  # effective skill above MMR at window start
    adv1: NDArray[np.float32]  # ... and at window end (smurfs: larger, so win rate rises)
    round_start: NDArray[np.uint16]  # first round of the active window
    activity: NDArray[np.float32]  # probability of playing a given round
    phase: NDArray[np.float32]
    created: NDArray[np.uint32]  # unix time the Steam account was created
    private: NDArray[np.bool_]
    calibrated: NDArray[np.bool_]
    plus: NDArray[np.bool_]
    country: NDArray[np.uint8]  # index into COUNTRIES, 255 = unset
    vac_bans: NDArray[np.uint8]
    game_bans: NDArray[np.uint8]
    days_since_ban: NDArray[np.uint16]
    community_banned: NDArray[np.bool_]
    hero_pool: NDArray[np.uint8]  # (N, 5) favourite hero ids
    position: NDArray[np.uint8]  # preferred position 1..5


COUNTRIES = ("US", "RU", "UA", "DE", "PE", "BR", "PH", "SE", "PL", "CN", "GB", "FR", "KZ", "CA", "ID")
_COUNTRY_WEIGHTS = np.array([12, 14, 8, 7, 6, 8, 7, 3, 5, 6, 4, 4, 3, 3, 4], dtype=np.float64)


class World:
    """An immutable generated world plus the lookups the dialect handlers need."""

    def __init__(
        self,
        config: SimulatorConfig,
        accounts: AccountArrays,
        match_players: NDArray[np.uint32],
        lobby_type: NDArray[np.uint8],
        game_mode: NDArray[np.uint8],
        radiant_win: NDArray[np.bool_],
        round_base: NDArray[np.int64],
        csr_offsets: NDArray[np.int64],
        csr_matches: NDArray[np.int32],
    ) -> None:
        self.config = config
        self.seed = config.seed
        self.accounts = accounts
        self.match_players = match_players
        self.lobby_type = lobby_type
        self.game_mode = game_mode
        self.radiant_win = radiant_win
        self.round_base = round_base
        self.csr_offsets = csr_offsets
        self.csr_matches = csr_matches
        self.num_accounts = int(accounts.account_id.shape[0])
        self.num_matches = int(match_players.shape[0])
        self.num_rounds = int(round_base.shape[0] - 1)
        self.time_start = config.timeline_start
        self.time_span = config.timeline_days * 86_400
        self.now = self.time_start + self.time_span  # the world's "today"
        order = np.argsort(accounts.account_id, kind="stable")
        self._sorted_ids = accounts.account_id[order]
        self._sorted_index = order.astype(np.uint32)
        self.known_hero_ids = np.array(sorted(heroes()), dtype=np.int64)
        self._board: NDArray[np.float64] | None = None  # Immortal MMRs, best first (lazy)
        self._tiers_now: NDArray[np.int64] | None = None  # every account's medal today, 0 uncalibrated (lazy)

    # ------------------------------------------------------------------ generation
    @classmethod
    def generate(cls, config: SimulatorConfig) -> World:
        """Build the world for ``config``; the same world fields always give the same world."""
        rng = np.random.default_rng([config.seed, 0x51D07A])
        accounts = _generate_accounts(config, rng)
        return _schedule_matches(cls, config, accounts, rng)

    # ------------------------------------------------------------------ accounts
    def account_index(self, account_id: int) -> int | None:
        """Index of an account id, or None when the world has no such account."""
        if account_id < 0 or account_id > 0xFFFFFFFF:
            return None
        pos = int(np.searchsorted(self._sorted_ids, account_id))
        if pos < self.num_accounts and int(self._sorted_ids[pos]) == account_id:
            return int(self._sorted_index[pos])
        return None

    def account_ids(self, index: NDArray[Any]) -> NDArray[np.int64]:
        return self.accounts.account_id[index].astype(np.int64)

    def mmr_at(self, index: NDArray[Any], rnd: NDArray[Any]) -> NDArray[np.float64]:
        """Visible matchmaking rating of accounts at a round (what rank_tier shows)."""
        return _mmr(self.accounts, self.num_rounds, index, rnd)

    def effective_at(self, index: NDArray[Any], rnd: NDArray[Any]) -> NDArray[np.float64]:
        """Hidden effective skill at a round: MMR plus the account's advantage."""
        return _effective(self.accounts, self.num_rounds, index, rnd)

    def rank_tier(self, index: int, rnd: int | None = None) -> int | None:
        """Current (or at-round) rank tier; None for accounts that never calibrated."""
        if not self.accounts.calibrated[index]:
            return None
        r = self.num_rounds - 1 if rnd is None else rnd
        return int(rank_tier_from_mmr(self.mmr_at(np.array([index]), np.array([r])))[0])

    def rank_tiers_now(self) -> NDArray[np.int64]:
        """Every account's medal today (``rank_tier`` of each, 0 for the uncalibrated), made once."""
        if self._tiers_now is None:
            n = self.num_accounts
            tiers = rank_tier_from_mmr(self.mmr_at(np.arange(n), np.full(n, self.num_rounds - 1)))
            self._tiers_now = np.where(self.accounts.calibrated, tiers, 0)
        return self._tiers_now

    def rank_history(self, index: int) -> list[tuple[int, int]]:
        """(unix time, rank tier) at the start of the window and at every tier change."""
        if not self.accounts.calibrated[index]:
            return []
        first = int(self.accounts.round_start[index])
        rounds = np.arange(first, self.num_rounds)
        tiers = rank_tier_from_mmr(self.mmr_at(np.full(rounds.shape, index), rounds))
        keep = np.concatenate([[True], tiers[1:] != tiers[:-1]])
        return [(self.round_time(int(r)), int(t)) for r, t in zip(rounds[keep], tiers[keep], strict=True)]

    def leaderboard_rank(self, index: int) -> int | None:
        """Position among Immortals by final MMR (1 = best), None below Immortal."""
        if self.rank_tier(index) != 80:
            return None
        board = self._leaderboard()
        return int(np.searchsorted(-board, -float(self.mmr_at(np.array([index]), np.array([self.num_rounds - 1]))[0])) + 1)

    def _leaderboard(self) -> NDArray[np.float64]:
        if self._board is None:
            final = self.mmr_at(np.arange(self.num_accounts), np.full(self.num_accounts, self.num_rounds - 1))
            self._board = -np.sort(-final[(final >= 5420) & self.accounts.calibrated])
        return self._board

    # ------------------------------------------------------------------ matches
    def round_of(self, match_index: NDArray[Any]) -> NDArray[np.int64]:
        return np.searchsorted(self.round_base, match_index, side="right").astype(np.int64) - 1

    def round_time(self, rnd: int) -> int:
        return self.time_start + (int(self.round_base[rnd]) * self.time_span) // self.num_matches

    def start_time(self, match_index: NDArray[Any]) -> NDArray[np.int64]:
        """Start times grow with the match index, spread evenly over the timeline."""
        return self.time_start + (np.asarray(match_index, dtype=np.int64) * self.time_span) // self.num_matches

    def match_id(self, match_index: NDArray[Any]) -> NDArray[np.int64]:
        idx = np.asarray(match_index, dtype=np.int64)
        return MATCH_ID_BASE + idx * MATCH_ID_STEP + choice_index(self.seed, MATCH_ID_STEP, idx, 11)

    def match_seq_num(self, match_index: NDArray[Any]) -> NDArray[np.int64]:
        idx = np.asarray(match_index, dtype=np.int64)
        return MATCH_SEQ_BASE + idx * MATCH_SEQ_STEP + choice_index(self.seed, MATCH_SEQ_STEP, idx, 12)

    def match_index(self, match_id: int) -> int | None:
        """Inverse of ``match_id``; None for ids that are not in the world."""
        idx, _ = divmod(match_id - MATCH_ID_BASE, MATCH_ID_STEP)
        if match_id < MATCH_ID_BASE or idx >= self.num_matches:
            return None
        # ``match_id`` of one index on plain integers (numpy's per-call overhead is most of the cost)
        return idx if MATCH_ID_BASE + idx * MATCH_ID_STEP + hash64_int(self.seed, idx, 11) % MATCH_ID_STEP == match_id else None

    def first_match_at_seq(self, seq_num: int) -> int:
        """Index of the first match whose sequence number is >= ``seq_num``."""
        idx = max(0, (seq_num - MATCH_SEQ_BASE) // MATCH_SEQ_STEP)
        if idx < self.num_matches and int(self.match_seq_num(np.array([idx]))[0]) < seq_num:
            idx += 1
        return min(idx, self.num_matches)

    def matches_of(self, index: int) -> NDArray[np.int64]:
        """Match indices an account played, oldest first."""
        lo, hi = int(self.csr_offsets[index]), int(self.csr_offsets[index + 1])
        return self.csr_matches[lo:hi].astype(np.int64)

    def slot_of(self, index: int, matches: NDArray[np.int64]) -> NDArray[np.int64]:
        """Slot 0..9 (0-4 radiant) the account held in each of its matches."""
        return np.argmax(self.match_players[matches] == index, axis=1).astype(np.int64)

    # ------------------------------------------------------------------ truth
    def truth_rows(self, only_labelled: bool = False) -> list[dict[str, Any]]:
        """Ground truth per account: kind, smurf flag, hidden and visible skill, bans."""
        a = self.accounts
        idx = np.arange(self.num_accounts)
        if only_labelled:
            idx = idx[(a.kind == KIND_SMURF) | (a.vac_bans > 0) | (a.game_bans > 0)]
        last = np.full(idx.shape, self.num_rounds - 1)
        final_mmr = self.mmr_at(idx, last)
        true_skill = self.effective_at(idx, last)
        tiers = rank_tier_from_mmr(final_mmr)
        true_tiers = rank_tier_from_mmr(true_skill)
        counts = np.diff(self.csr_offsets)[idx]
        rows = []
        for j, i in enumerate(idx.tolist()):
            rows.append(
                {
                    "account_id": int(a.account_id[i]),
                    "kind": KIND_NAMES[int(a.kind[i])],
                    "is_smurf": bool(a.kind[i] == KIND_SMURF),
                    "true_skill": round(float(true_skill[j]), 1),
                    "true_rank_tier": int(true_tiers[j]),
                    "mmr": round(float(final_mmr[j]), 1),
                    "rank_tier": int(tiers[j]) if a.calibrated[i] else None,
                    "matches": int(counts[j]),
                    "is_private": bool(a.private[i]),
                    "vac_banned": bool(a.vac_bans[i] > 0),
                    "game_banned": bool(a.game_bans[i] > 0),
                    "number_of_vac_bans": int(a.vac_bans[i]),
                    "number_of_game_bans": int(a.game_bans[i]),
                }
            )
        return rows

    def truth_summary(self) -> dict[str, Any]:
        a = self.accounts
        return {
            "seed": self.seed,
            "accounts": self.num_accounts,
            "matches": self.num_matches,
            "smurfs": int((a.kind == KIND_SMURF).sum()),
            "vac_banned": int((a.vac_bans > 0).sum()),
            "game_banned": int((a.game_bans > 0).sum()),
            "private": int(a.private.sum()),
            "seed_account_id": SEED_ACCOUNT_ID,
        }

    def write_truth(self, path: str | Path) -> Path:
        """Write the full ground-truth table; ``.csv`` gives CSV, anything else JSON."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        rows = self.truth_rows()
        if target.suffix.lower() == ".csv":
            with target.open("w", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
        else:
            target.write_text(json.dumps({**self.truth_summary(), "rows": rows}), encoding="utf-8")
        return target

    def nbytes(self) -> int:
        """Bytes held by the world's arrays (for the benchmark and the stats page)."""
        arrays = [getattr(self.accounts, f) for f in AccountArrays.__dataclass_fields__]
        arrays += [self.match_players, self.lobby_type, self.game_mode, self.radiant_win]
        arrays += [self.round_base, self.csr_offsets, self.csr_matches, self._sorted_ids, self._sorted_index]
        return int(sum(x.nbytes for x in arrays))


# ---------------------------------------------------------------------- skill model
def _progress(acc: AccountArrays, rounds: int, index: NDArray[Any], rnd: NDArray[Any]) -> NDArray[np.float64]:
    start = acc.round_start[index].astype(np.float64)
    span = np.maximum(1.0, (rounds - 1) - start)
    return np.clip((np.asarray(rnd, dtype=np.float64) - start) / span, 0.0, 1.0)


def _mmr(acc: AccountArrays, rounds: int, index: NDArray[Any], rnd: NDArray[Any]) -> NDArray[np.float64]:
    return acc.base_mmr[index] + acc.rise[index] * _progress(acc, rounds, index, rnd)


def _effective(acc: AccountArrays, rounds: int, index: NDArray[Any], rnd: NDArray[Any]) -> NDArray[np.float64]:
    p = _progress(acc, rounds, index, rnd)
    return acc.base_mmr[index] + acc.rise[index] * p + acc.adv0[index] + (acc.adv1[index] - acc.adv0[index]) * p


# ---------------------------------------------------------------------- generation helpers
def _generate_accounts(config: SimulatorConfig, rng: np.random.Generator) -> AccountArrays:
    n, rounds = config.accounts, config.effective_rounds
    kind = np.full(n, KIND_NORMAL, dtype=np.uint8)
    u = rng.random(n)
    kind[u < config.smurf_rate] = KIND_SMURF
    kind[(u >= config.smurf_rate) & (u < config.smurf_rate + config.newbie_rate)] = KIND_NEWBIE
    climb_lo = config.smurf_rate + config.newbie_rate
    kind[(u >= climb_lo) & (u < climb_lo + config.climber_rate)] = KIND_CLIMBER
    kind[0] = KIND_NORMAL  # index 0 becomes the seed account 293053907
    smurf, newbie, climber = kind == KIND_SMURF, kind == KIND_NEWBIE, kind == KIND_CLIMBER

    base = np.clip(rng.normal(3000, 1100, n), 10, 7600)
    rise = np.zeros(n)
    adv0 = np.zeros(n)
    adv1 = np.zeros(n)
    round_start = np.zeros(n, dtype=np.int64)

    base[newbie] = np.clip(rng.normal(1700, 600, newbie.sum()), 10, 4000)
    rise[climber] = rng.uniform(300, 800, climber.sum())
    adv0[climber] = adv1[climber] = rng.uniform(60, 180, climber.sum())

    # Smurfs: strong hidden skill, low visible MMR that climbs, and an advantage that grows
    # over their short career (they stop sandbagging), so win rate rises with rank.
    ns = int(smurf.sum())
    true_skill = rng.uniform(3900, 6400, ns)
    adv1_s = rng.uniform(1300, 2100, ns)
    adv0_s = adv1_s - rng.uniform(300, 650, ns)
    rise_s = rng.uniform(350, 900, ns)
    base[smurf] = np.clip(true_skill - adv1_s - rise_s, 10, None)
    rise[smurf], adv0[smurf], adv1[smurf] = rise_s, adv0_s, adv1_s

    # Short careers: smurfs and newbies play every round of their final 20..70 rounds.
    short = smurf | newbie
    games = rng.integers(20, 71, n)
    games = np.minimum(games, rounds)
    round_start[short] = rounds - games[short]

    activity = np.where(short, 1.0, 0.1 + 0.9 * rng.beta(2.0, 2.0, n))
    phase = rng.random(n)

    # Creation time: long-standing accounts spread over years, short careers start recently.
    span = config.timeline_days * 86_400
    round_len = span / rounds
    created = rng.uniform(STEAM_ACCOUNT_EPOCH, config.timeline_start + 0.5 * span, n)
    created[short] = config.timeline_start + round_start[short] * round_len - rng.uniform(3_600, 5 * 86_400, short.sum())

    private = rng.random(n) < config.private_rate
    private[smurf] = False  # labelled smurfs stay scorable (their match lists are public)
    calibrated = rng.random(n) >= 0.02
    calibrated[smurf | climber] = True
    plus = rng.random(n) < np.where(smurf, 0.04, 0.15)
    country = rng.choice(len(COUNTRIES), n, p=_COUNTRY_WEIGHTS / _COUNTRY_WEIGHTS.sum()).astype(np.uint8)
    country[rng.random(n) < 0.12] = 255

    banned = rng.random(n) < np.where(smurf, 0.28, 0.015)
    vac = banned & (rng.random(n) < 0.4)
    game = banned & ~vac
    vac_bans = np.where(vac, rng.integers(1, 3, n), 0)
    game_bans = np.where(game, rng.integers(1, 3, n), 0)
    days_since = np.where(banned, rng.integers(1, 900, n), 0)
    days_since[smurf & banned] = rng.integers(1, 60, (smurf & banned).sum())
    community = banned & (rng.random(n) < 0.1)

    hero_ids = np.array(sorted(heroes()), dtype=np.int64)
    popularity = rng.gamma(2.0, 1.0, hero_ids.size)
    hero_pool = rng.choice(hero_ids, size=(n, 5), p=popularity / popularity.sum()).astype(np.uint8)
    position = rng.integers(1, 6, n).astype(np.uint8)

    # The seed account: an ordinary, active, public, unbanned player.
    base[0], activity[0], private[0], calibrated[0] = 3400.0, 0.9, False, True
    vac_bans[0] = game_bans[0] = days_since[0] = 0
    community[0] = False

    account_id = _assign_account_ids(n, created, rng)
    return AccountArrays(
        account_id=account_id,
        kind=kind,
        base_mmr=base.astype(np.float32),
        rise=rise.astype(np.float32),
        adv0=adv0.astype(np.float32),
        adv1=adv1.astype(np.float32),
        round_start=round_start.astype(np.uint16),
        activity=activity.astype(np.float32),
        phase=phase.astype(np.float32),
        created=created.astype(np.uint32),
        private=private,
        calibrated=calibrated,
        plus=plus,
        country=country,
        vac_bans=vac_bans.astype(np.uint8),
        game_bans=game_bans.astype(np.uint8),
        days_since_ban=days_since.astype(np.uint16),
        community_banned=community,
        hero_pool=hero_pool,
        position=position,
    )


def _assign_account_ids(n: int, created: NDArray[np.float64], rng: np.random.Generator) -> NDArray[np.uint32]:
    """Unique realistic 32-bit ids, increasing with creation time as Steam assigns them.

    Newer accounts get higher ids (a real smurf signal). Index 0 is then given
    exactly SEED_ACCOUNT_ID, keeping the id order intact around it.
    """
    drawn = np.sort(rng.integers(1_000_000, 4_000_000_000, size=n + n // 20 + 64, dtype=np.int64))
    pool = drawn[np.concatenate([[True], drawn[1:] != drawn[:-1]])]  # np.unique's answer, without its hash table
    pool = pool[pool != SEED_ACCOUNT_ID]
    pool = np.sort(rng.choice(pool, size=n, replace=False))  # 4e9 space: no shortage
    ids = np.empty(n, dtype=np.int64)
    ids[np.argsort(created, kind="stable")] = pool
    # swap the seed id into index 0: the account holding the closest id takes index 0's id
    nearest = int(np.argmin(np.abs(ids - SEED_ACCOUNT_ID)))
    ids[nearest] = ids[0]
    ids[0] = SEED_ACCOUNT_ID
    created[0], created[nearest] = created[nearest], created[0]
    return ids.astype(np.uint32)


@dataclass(frozen=True, slots=True)
class _RoundDraws:
    """Everything a round takes from the random stream, drawn in the stream's order."""

    part: NDArray[np.int64]  # the accounts playing, ascending
    mixed: NDArray[np.bool_]  # per player: in a mixed (skill-blind) lobby
    noise: NDArray[np.float64]  # standard normal per ranked player (matchmaking noise)
    flip: NDArray[np.bool_]  # per ranked lobby: sides swapped
    mixed_order: NDArray[np.int64]  # shuffle of the mixed players
    order: NDArray[np.int64]  # shuffle of the lobbies (ranked first, then mixed)
    lobby_u: NDArray[np.float64]
    mode_v: NDArray[np.float64]
    win_u: NDArray[np.float64]


def _schedule_matches(
    cls: type[World], config: SimulatorConfig, acc: AccountArrays, rng: np.random.Generator
) -> World:
    """Play ``rounds`` rounds of matchmaking into compact arrays (see module docstring).

    Three threads share the work as a pipeline (numpy releases the GIL): this one walks the
    random stream round after round and draws each round's numbers (``_RoundDraws``), one
    worker drafts the round's lobbies from them (``_Rounds.draft``) and another stores them
    and plays them out (``_Rounds.finish``) while later rounds are drawn and drafted. The
    CSR index is then filled half by this thread, half by a worker. The world is the same as
    drawing and computing each round in turn: every draw comes in the same order with the
    same sizes, each stage takes the rounds in order, and each round and each CSR half
    writes its own slice.
    """
    n, rounds, total = config.accounts, config.effective_rounds, config.num_matches
    per_round = np.full(rounds, total // rounds, dtype=np.int64)
    per_round[: total % rounds] += 1
    round_base = np.concatenate([[0], np.cumsum(per_round)]).astype(np.int64)

    short = (acc.kind == KIND_SMURF) | (acc.kind == KIND_NEWBIE)
    short_slots = float(np.sum(rounds - acc.round_start[short].astype(np.int64)))
    scale = (10.0 * total - short_slots) / (rounds * float(acc.activity[~short].sum()))
    p = np.where(short, 1.0, np.clip(acc.activity * scale, 2.0 / rounds, 1.0)).astype(np.float64)
    phase = acc.phase.astype(np.float64)
    # Accounts with few expected games are never dropped or added when a round's head
    # count is balanced, so every account keeps at least one match.
    adjustable = ~short & (p * rounds >= 4.0)
    adjustable[0] = False
    short_index = np.flatnonzero(short)
    short_start = acc.round_start[short_index]
    played = _Rounds(config, acc, rounds, round_base)
    counts = np.zeros(n, dtype=np.int64)
    counts_at_half = counts
    half = rounds // 2

    steps_before, steps_after = np.floor(0 * p + phase), np.empty(n)
    active = np.empty(n, dtype=np.bool_)
    pending: deque[Future[None]] = deque()
    with ThreadPoolExecutor(1, "world-draft") as drafter, ThreadPoolExecutor(1, "world-finish") as finisher:
        for r in range(rounds):
            target = int(per_round[r]) * 10
            # Evenly spread participation: an account plays when floor(r*p + phase) steps.
            np.floor(np.add(np.multiply(p, r + 1, out=steps_after), phase, out=steps_after), out=steps_after)
            np.greater(steps_after, steps_before, out=active)
            steps_before, steps_after = steps_after, steps_before
            active[short_index] = short_start <= r
            _balance(active, adjustable, target, rng)
            part = np.flatnonzero(active)
            if r == half:
                counts_at_half = counts.copy()
            counts += active

            mixed = (rng.random(part.size) < config.mixed_match_rate) & adjustable[part]
            extra = np.count_nonzero(mixed) % 10
            if extra:
                mixed[np.flatnonzero(mixed)[:extra]] = False
            mixed_players = np.count_nonzero(mixed)
            ranked_lobbies = (part.size - mixed_players) // 10
            lobbies = ranked_lobbies + mixed_players // 10
            noise = rng.standard_normal(part.size - mixed_players)
            flip = rng.random(ranked_lobbies) < 0.5
            mixed_order = rng.permutation(mixed_players)
            order = rng.permutation(lobbies)
            lobby_u, mode_v = rng.random(lobbies), rng.random(lobbies)
            draws = _RoundDraws(part, mixed, noise, flip, mixed_order, order, lobby_u, mode_v, rng.random(lobbies))
            drafted = drafter.submit(played.draft, r, draws)
            pending.append(finisher.submit(played.finish, r, draws, drafted))
            while len(pending) > 3:  # bounds the draws held in memory
                pending.popleft().result()
        for future in pending:
            future.result()

        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        csr = np.empty(int(offsets[-1]), dtype=np.int32)
        first_half = finisher.submit(played.fill_csr, csr, offsets[:-1].copy(), range(half))
        played.fill_csr(csr, offsets[:-1] + counts_at_half, range(half, rounds))
        first_half.result()
    return cls(config, acc, played.match_players, played.lobby_type, played.game_mode, played.radiant_win,
               round_base, offsets, csr)  # fmt: skip


class _Rounds:
    """The rounds' lobbies, teams and results, computed from their draws in round order."""

    def __init__(self, config: SimulatorConfig, acc: AccountArrays, rounds: int, round_base: NDArray[np.int64]) -> None:
        total = config.num_matches
        self.round_base = round_base
        self.match_players = np.empty((total, 10), dtype=np.uint32)
        self.lobby_type = np.empty(total, dtype=np.uint8)
        self.game_mode = np.empty(total, dtype=np.uint8)
        self.radiant_win = np.empty(total, dtype=np.bool_)
        # MMR (``draft``'s) and effective skill (``finish``'s) of the round; an account with no
        # rise and no advantage stays at its base.
        self.varying = np.flatnonzero((acc.rise != 0) | (acc.adv0 != 0) | (acc.adv1 != 0))
        self.skill_curve = _SkillCurve(acc, rounds, self.varying)
        self.mmr_now = acc.base_mmr.astype(np.float64)
        self.skill_now = self.mmr_now.copy()

    def draft(self, r: int, draws: _RoundDraws) -> NDArray[np.int64]:
        """Round ``r``'s lobbies, (lobbies, 10) accounts, radiant first: ranked ones by noisy MMR,
        snake-drafted, mixed ones at random."""
        self.mmr_now[self.varying] = self.skill_curve.at(r)[0]
        ranked_ids = draws.part[~draws.mixed]
        key = self.mmr_now[ranked_ids]
        key += draws.noise * 60.0  # what rng.normal(0.0, 60.0) returns for these draws
        by_rating = _stable_sort_by_key(np.clip(key, 0, 65_000).astype(np.uint16), ranked_ids)
        # seat c of lobby j takes the (10j + snake[c])-th rated player; a flipped lobby swaps
        # sides, so radiant gets the snake's second half
        seats = np.arange(0, by_rating.size, 10)[:, None] + _SEATINGS[draws.flip.astype(np.intp)]
        mixed_groups = draws.part[draws.mixed].take(draws.mixed_order).reshape(-1, 10)
        return np.concatenate([by_rating.take(seats), mixed_groups]).take(draws.order, axis=0)

    def finish(self, r: int, draws: _RoundDraws, drafted: Future[NDArray[np.int64]]) -> None:
        """Store round ``r``'s lobbies with their lobby types, game modes and winners."""
        self.skill_now[self.varying] = self.skill_curve.at(r)[1]
        players = drafted.result()
        lo, hi = int(self.round_base[r]), int(self.round_base[r + 1])
        self.match_players[lo:hi] = players
        self.lobby_type[lo:hi], self.game_mode[lo:hi] = _lobby_and_mode(
            draws.order >= players.shape[0] - draws.mixed_order.size // 10, draws.lobby_u, draws.mode_v
        )
        eff = self.skill_now[players]
        diff = eff[:, :5].sum(axis=1) - eff[:, 5:].sum(axis=1)
        self.radiant_win[lo:hi] = draws.win_u < 1.0 / (1.0 + np.exp(-diff / TEAM_SKILL_SCALE))

    def fill_csr(self, csr: NDArray[np.int32], cursor: NDArray[np.int64], rounds: range) -> None:
        """Append each round's match to its players' CSR lists; ``cursor``: their next free slots."""
        for r in rounds:
            lo, hi = int(self.round_base[r]), int(self.round_base[r + 1])
            members = self.match_players[lo:hi].ravel().astype(np.intp)  # an account plays once a round
            slots = cursor[members]
            csr[slots] = np.repeat(np.arange(lo, hi, dtype=np.int32), 10)
            cursor[members] = slots + 1


class _SkillCurve:
    """``_mmr`` and ``_effective`` of a fixed set of accounts, round after round.

    The columns are converted to float64 once; each round then repeats exactly the
    operations of ``_progress``, ``_mmr`` and ``_effective``, so the values are the same.
    """

    def __init__(self, acc: AccountArrays, rounds: int, index: NDArray[np.int64]) -> None:
        self.start = acc.round_start[index].astype(np.float64)
        self.span = np.maximum(1.0, (rounds - 1) - self.start)
        self.base = acc.base_mmr[index].astype(np.float64)
        self.rise = acc.rise[index].astype(np.float64)
        self.adv0 = acc.adv0[index].astype(np.float64)
        self.adv_gain = (acc.adv1[index] - acc.adv0[index]).astype(np.float64)  # the float32 difference

    def at(self, rnd: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(MMR, effective skill) at round ``rnd``."""
        progress = np.clip((float(rnd) - self.start) / self.span, 0.0, 1.0)
        mmr = self.base + self.rise * progress
        return mmr, mmr + self.adv0 + self.adv_gain * progress


def _stable_sort_by_key(key: NDArray[np.uint16], ids: NDArray[np.int64]) -> NDArray[np.int64]:
    """``ids[np.argsort(key, kind="stable")]`` for ascending 32-bit ``ids``: sorting
    (key << 32 | id) orders equal keys by id, that is by position, without the argsort's
    stable radix sort and gather."""
    packed = (key.astype(np.int64) << 32) | ids
    packed.sort()
    return packed & 0xFFFFFFFF


def _balance(active: NDArray[np.bool_], adjustable: NDArray[np.bool_], target: int, rng: np.random.Generator) -> None:
    """Add or drop adjustable accounts so exactly ``target`` play this round."""
    excess = np.count_nonzero(active) - target
    if excess > 0:
        pool = np.flatnonzero(active & adjustable)
        active[rng.choice(pool, min(excess, pool.size), replace=False)] = False
    elif excess < 0:
        pool = np.flatnonzero(~active & adjustable)
        active[rng.choice(pool, min(-excess, pool.size), replace=False)] = True
    if np.count_nonzero(active) != target:
        raise ValueError("world too small for its match count: a round cannot be balanced")


def _lobby_and_mode(
    is_mixed: NDArray[np.bool_], u: NDArray[np.float64], v: NDArray[np.float64]
) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """Skill-matched lobbies are mostly ranked; mixed ones are normal, practice or battle cup."""
    lobby = np.where(u < 0.82, RANKED_LOBBY_TYPE, np.where(u < 0.97, NORMAL_LOBBY_TYPE, 9))
    lobby = np.where(is_mixed, np.where(u < 0.94, NORMAL_LOBBY_TYPE, np.where(u < 0.98, 1, 2)), lobby)
    ranked_mode = np.where(v < 0.92, 22, np.where(v < 0.97, 2, 3))
    normal_mode = np.where(v < 0.62, 22, np.where(v < 0.9, 23, np.where(v < 0.95, 18, 5)))
    mode = np.where(lobby == RANKED_LOBBY_TYPE, ranked_mode, np.where(lobby == NORMAL_LOBBY_TYPE, normal_mode, 2))
    return lobby.astype(np.uint8), mode.astype(np.uint8)

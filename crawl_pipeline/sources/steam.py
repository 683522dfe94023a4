"""The Steam Web API: IDOTA2Match_570 (match history, sequence, details) and ISteamUser bans.

Shapes as Valve documents them: every IDOTA2Match_570 answer is wrapped in ``result``;
GetMatchHistory pages with ``start_at_match_id`` (inclusive) and at most 100 per call, and
says ``status: 15`` for a player who does not share match data.

Match details come from GetMatchHistoryBySequenceNum: GetMatchDetails has answered HTTP 500
with ``{}`` for every match since 2024 (ValveSoftware/Dota-2 #2715; OpenDota stopped calling
it), while the sequence feed returns up to 100 full matches per call in the same shape. A
history page carries each match's ``match_seq_num``, so stubs whose sequence numbers lie within
100 of each other are fetched in one call. ``use_match_details=True`` (``STEAM_MATCH_DETAILS=1``)
goes back to GetMatchDetails for the day Valve repairs it; its 500 is then ``DetailsNotReady``.
The key must be the ``key`` query parameter; ``http.py`` adds it below httpx so it is never
logged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pydantic

from crawl_pipeline.domain.heroes import region_of_cluster
from crawl_pipeline.domain.identity import from_steamid64, to_steamid64
from crawl_pipeline.domain.records import (
    BanResults,
    DetailsRequest,
    MatchDetails,
    MatchPage,
    MatchPlayer,
    MatchStub,
    PlayerBan,
)
from crawl_pipeline.settings import DEFAULT_STEAM_API_URL
from crawl_pipeline.sources.common import (
    BaseSource,
    DetailsOutcome,
    Wire,
    account_or_none,
    details,
    epoch,
    from_epoch,
    in_date_range,
)
from crawl_pipeline.sources.errors import (
    APIError,
    DetailsNotReady,
    MalformedResponse,
    NotFound,
    ServerError,
    UnsupportedOperation,
)
from crawl_pipeline.sources.http import Problem, ProviderHTTP, validation_message
from crawl_pipeline.sources.ratelimit import RateTier, RateWindow
from crawl_pipeline.sources.spec import ProviderSpec

PROVIDER = "steam"
RATE_GROUP = "webapi"  # one daily allowance per key for all interfaces
MAX_PER_CALL = 100
PRIVATE_STATUS = 15
HISTORY = "/IDOTA2Match_570/GetMatchHistory/v1/"
BY_SEQUENCE = "/IDOTA2Match_570/GetMatchHistoryBySequenceNum/v1/"
DETAILS = "/IDOTA2Match_570/GetMatchDetails/v1/"
BANS = "/ISteamUser/GetPlayerBans/v1/"
SEQUENCE_ENDPOINT = "matches_by_sequence"  # the accounting's name of BY_SEQUENCE calls, and their pace's
SEQUENCE_PACE_SECONDS = 5  # one call per this many seconds (SPEC.paces)


class _HistoryMatch(Wire):
    match_id: int
    match_seq_num: int | None = None
    start_time: int | None = None
    lobby_type: int | None = None


class _HistoryResult(Wire):
    status: int
    statusDetail: str | None = None
    total_results: int | None = None
    results_remaining: int | None = None
    matches: list[_HistoryMatch] = pydantic.Field(default_factory=list)


class _DetailsPlayer(Wire):
    player_slot: int
    hero_id: int
    account_id: int | None = None
    kills: int | None = None
    deaths: int | None = None
    assists: int | None = None
    gold_per_min: int | None = None
    xp_per_min: int | None = None
    last_hits: int | None = None
    denies: int | None = None
    net_worth: int | None = None
    hero_damage: int | None = None


class _Details(Wire):
    match_id: int
    players: list[_DetailsPlayer]
    match_seq_num: int | None = None
    start_time: int | None = None
    duration: int | None = None
    lobby_type: int | None = None
    game_mode: int | None = None
    radiant_win: bool | None = None
    cluster: int | None = None


class _DetailsResult(Wire):
    error: str | None = None


class _BySequenceResult(Wire):
    status: int
    statusDetail: str | None = None
    matches: list[dict[str, Any]] = pydantic.Field(default_factory=list)  # validated one by one: one bad match fails alone


@dataclass(frozen=True)
class SequencePage:
    """One answer of the sequence feed: an outcome per match it listed, and how far it reached.

    ``seq_nums``: the ``match_seq_num`` of every listed match that has both numbers, readable or not
    (a match that failed can be fetched again from its sequence number). ``unnamed``: the
    ``match_seq_num`` (None when it has none either) of each listed entry without an integer
    ``match_id``: it has no outcome, since nothing can name it, but it is counted here."""

    outcomes: list[tuple[int, MatchDetails | APIError]]
    last_seq: int | None  # the highest match_seq_num listed (the feed goes on after it)
    listed: int  # matches in the answer, good or bad
    seq_nums: dict[int, int] = field(default_factory=dict)
    unnamed: list[int | None] = field(default_factory=list)

    def reaches(self, seq: int) -> bool:
        """Whether it listed a match at or past ``seq``: one asked from ``seq`` that does not moves
        no cursor, and asked again would give the same answer."""
        return self.last_seq is not None and self.last_seq >= seq


class _Ban(Wire):
    SteamId: int
    CommunityBanned: bool
    VACBanned: bool
    NumberOfVACBans: int
    NumberOfGameBans: int
    DaysSinceLastBan: int | None = None
    EconomyBan: str | None = None


class _Bans(Wire):
    players: list[_Ban]


class _Envelope(Wire):
    result: dict[str, Any]


def error_hook(response: httpx.Response, endpoint: str) -> type[APIError] | None:
    """GetMatchDetails' 500 means 'no data', not a broken server: the stub stays pending."""
    if endpoint == "match_details" and response.status_code == 500:
        return DetailsNotReady
    return None


def _to_details(m: _Details) -> MatchDetails:
    players = [
        MatchPlayer(
            player_slot=p.player_slot,
            account_id=account_or_none(p.account_id),
            hero_id=p.hero_id,
            is_radiant=p.player_slot < 128,
            win=None if m.radiant_win is None else (p.player_slot < 128) == m.radiant_win,
            kills=p.kills,
            deaths=p.deaths,
            assists=p.assists,
            gold_per_min=p.gold_per_min,
            xp_per_min=p.xp_per_min,
            last_hits=p.last_hits,
            denies=p.denies,
            net_worth=p.net_worth,
            hero_damage=p.hero_damage,
        )
        for p in m.players
    ]
    return details(
        players,
        match_id=m.match_id,
        source=PROVIDER,
        match_seq_num=m.match_seq_num,
        start_time=from_epoch(m.start_time, "start_time"),
        duration=m.duration,
        lobby_type=m.lobby_type,
        game_mode=m.game_mode,
        radiant_win=m.radiant_win,
        region=region_of_cluster(m.cluster),
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _result(payload: Any) -> dict[str, Any]:
    return _Envelope.model_validate(payload).result


def sequence_groups(requests: Sequence[DetailsRequest], span: int = MAX_PER_CALL) -> list[list[DetailsRequest]]:
    """Requests sorted by sequence number, cut into groups that one feed call of ``span`` covers;
    requests without a sequence number are groups of their own (they cannot be served)."""
    known = sorted((r for r in requests if r.match_seq_num is not None), key=lambda r: r.match_seq_num or 0)
    groups: list[list[DetailsRequest]] = [[r] for r in requests if r.match_seq_num is None]
    current: list[DetailsRequest] = []
    for request in known:
        if current and (request.match_seq_num or 0) - (current[0].match_seq_num or 0) >= span:
            groups.append(current)
            current = []
        current.append(request)
    if current:
        groups.append(current)
    return groups


class SteamSource(BaseSource):
    provider = PROVIDER
    # matches without lane_role or per-player rank_tier, histories without duration or game mode
    partial_calls = frozenset({"match_details", "match_history"})

    def __init__(self, http: ProviderHTTP, *, use_match_details: bool = False) -> None:
        super().__init__(http)
        self.use_match_details = use_match_details

    def budget_wait(self, call: str) -> float:
        """Details come from the sequence feed, whose own pace is far slower than the key's."""
        if call == "match_details" and not self.use_match_details:
            return self.http.budget_wait(SEQUENCE_ENDPOINT)
        return self.http.budget_wait()

    def match_page(
        self,
        account_id: int,
        cursor: int | None = None,
        *,
        page_size: int = 100,
        lobby_type: int | None = None,
        date_after: datetime | None = None,
        date_before: datetime | None = None,
    ) -> MatchPage:
        """``cursor`` is the next ``start_at_match_id``. Lobby and dates are filtered here
        (Valve's date parameters are deprecated); paging stops at the first match older
        than ``date_after``."""
        params: dict[str, Any] = {"account_id": account_id, "matches_requested": max(1, min(page_size, MAX_PER_CALL))}
        if cursor is not None:
            params["start_at_match_id"] = cursor

        def parse(payload: Any) -> MatchPage:
            result = _HistoryResult.model_validate(_result(payload))
            if result.status == PRIVATE_STATUS:
                return MatchPage(account_id=account_id, source=PROVIDER, matches=[], is_private=True)
            if result.status != 1:  # any other status is undocumented: treat it as a passing fault
                raise Problem(ServerError, f"status {result.status}: {result.statusDetail or 'no detail'}")
            stubs = [
                MatchStub(
                    match_id=m.match_id,
                    match_seq_num=m.match_seq_num,
                    start_time=from_epoch(m.start_time, "start_time"),
                    lobby_type=m.lobby_type,
                )
                for m in result.matches
            ]
            older = date_after is not None and any(m.start_time is not None and m.start_time < epoch(date_after) for m in result.matches)
            more = bool(result.results_remaining) and bool(stubs) and not older
            return MatchPage(
                account_id=account_id,
                source=PROVIDER,
                matches=[
                    s
                    for s in stubs
                    if (lobby_type is None or s.lobby_type == lobby_type) and in_date_range(s.start_time, date_after, date_before)
                ],
                next_cursor=stubs[-1].match_id - 1 if more else None,
                total=result.total_results,
            )

        return self.http.call("match_page", HISTORY, parse, params=params)

    def sequence_page(self, start_at_match_seq_num: int, count: int = MAX_PER_CALL) -> SequencePage:
        """Up to 100 full matches from a sequence number on (the global feed), each its own outcome:
        a match whose fields are out of range or whose shape is wrong fails alone, with the reason."""

        def parse(payload: Any) -> SequencePage:
            result = _BySequenceResult.model_validate(_result(payload))
            if result.status != 1:  # Valve documents no other status here: assume a passing fault
                raise Problem(ServerError, f"status {result.status}: {result.statusDetail or 'no detail'}")
            outcomes: list[tuple[int, MatchDetails | APIError]] = []
            seqs = []
            seq_nums: dict[int, int] = {}
            unnamed: list[int | None] = []
            for raw in result.matches:
                match_id, seq = raw.get("match_id"), raw.get("match_seq_num")
                seq = seq if _is_int(seq) else None
                if seq is not None:
                    seqs.append(seq)
                if not _is_int(match_id):
                    unnamed.append(seq)  # nothing to name it by: counted; the cursor still moves past it
                    continue
                if seq is not None:
                    seq_nums[match_id] = seq
                try:
                    outcomes.append((match_id, _to_details(_Details.model_validate(raw))))
                except pydantic.ValidationError as exc:
                    message = f"match {match_id}: {validation_message(exc)}"
                    outcomes.append((match_id, MalformedResponse(message, provider=PROVIDER, endpoint=SEQUENCE_ENDPOINT)))
                except Problem as problem:
                    outcomes.append((match_id, problem.kind(problem.message, provider=PROVIDER, endpoint=SEQUENCE_ENDPOINT)))
            return SequencePage(outcomes, max(seqs, default=None), len(result.matches), seq_nums, unnamed)

        params = {"start_at_match_seq_num": start_at_match_seq_num, "matches_requested": max(1, min(count, MAX_PER_CALL))}
        return self.http.call(SEQUENCE_ENDPOINT, BY_SEQUENCE, parse, params=params)

    def matches_by_sequence(self, start_at_match_seq_num: int, count: int = MAX_PER_CALL) -> list[MatchDetails]:
        """The good matches of ``sequence_page`` (for a look by hand; the crawl keeps every outcome)."""
        page = self.sequence_page(start_at_match_seq_num, count)
        return [m for _, m in page.outcomes if isinstance(m, MatchDetails)]

    def details_groups(self, requests: Sequence[DetailsRequest]) -> list[list[DetailsRequest]]:
        if self.use_match_details:
            return super().details_groups(requests)
        return sequence_groups(requests)

    def match_details_group(self, group: Sequence[DetailsRequest]) -> list[DetailsOutcome]:
        """One feed call per group (more when the feed's answer stops short of the group's end)."""
        if self.use_match_details:
            return super().match_details_group(group)
        outcomes: list[DetailsOutcome] = []
        todo = sorted(group, key=lambda r: r.match_seq_num or 0)
        while todo:
            first = todo[0]
            if first.match_seq_num is None:
                outcomes.append((first.match_id, self._no_sequence(first.match_id)))
                todo = todo[1:]
                continue
            span = (todo[-1].match_seq_num or 0) - first.match_seq_num + 1
            try:
                page = self.sequence_page(first.match_seq_num, min(span, MAX_PER_CALL))
            except APIError as error:
                outcomes.extend((r.match_id, error) for r in todo)
                break
            by_id = dict(page.outcomes)
            reached = page.last_seq if page.last_seq is not None else first.match_seq_num - 1
            stalled = page.listed and not page.reaches(first.match_seq_num)
            later: list[DetailsRequest] = []
            for request in todo:
                found = by_id.get(request.match_id)
                if found is not None:
                    outcomes.append((request.match_id, found))
                elif stalled:
                    outcomes.append((request.match_id, MalformedResponse(
                        f"the sequence feed's answer from {first.match_seq_num} listed {page.listed} matches but no "
                        f"match_seq_num field at or past it (last {page.last_seq}): match {request.match_id} cannot be reached",
                        provider=PROVIDER, endpoint=SEQUENCE_ENDPOINT,
                    )))
                elif (request.match_seq_num or 0) > reached and page.listed:
                    later.append(request)  # the answer stopped short: ask again from here
                else:
                    outcomes.append((request.match_id, NotFound(
                        f"match {request.match_id} is not in the sequence feed at {request.match_seq_num}",
                        provider=PROVIDER, endpoint=SEQUENCE_ENDPOINT,
                    )))
            todo = later
        return outcomes

    def _no_sequence(self, match_id: int) -> APIError:
        return UnsupportedOperation(
            f"match {match_id} has no match_seq_num: Steam serves details from its sequence feed only; "
            "route match_history to steam or stratz (their pages carry it) or match_details to opendota or stratz",
            provider=PROVIDER, endpoint=SEQUENCE_ENDPOINT,
        )

    def match_details(self, match_id: int) -> MatchDetails:
        """GetMatchDetails, broken at Valve since 2024 (500 for every match); see the module doc."""

        def parse(payload: Any) -> MatchDetails:
            result = _result(payload)
            error = _DetailsResult.model_validate(result).error
            if error:
                raise Problem(NotFound, f"match {match_id}: {error}")
            return _to_details(_Details.model_validate(result))

        return self.http.call("match_details", DETAILS, parse, params={"match_id": match_id})

    def player_bans(self, account_ids: Sequence[int]) -> BanResults:
        """Bans of any number of accounts, 100 steamid64s per call; unknown ids are ``not_found``."""
        wanted = list(dict.fromkeys(account_ids))
        bans: list[PlayerBan] = []
        for i in range(0, len(wanted), MAX_PER_CALL):
            chunk = wanted[i : i + MAX_PER_CALL]
            params = {"steamids": ",".join(str(to_steamid64(a)) for a in chunk)}
            bans.extend(self.http.call("player_bans", BANS, _parse_bans, params=params))
        found = {b.account_id for b in bans}
        return BanResults(source=PROVIDER, bans=bans, not_found=[a for a in wanted if a not in found])


def _parse_bans(payload: Any) -> list[PlayerBan]:
    return [
        PlayerBan(
            account_id=from_steamid64(p.SteamId),
            vac_banned=p.VACBanned,
            number_of_vac_bans=p.NumberOfVACBans,
            number_of_game_bans=p.NumberOfGameBans,
            community_banned=p.CommunityBanned,
            economy_ban=p.EconomyBan,
            days_since_last_ban=p.DaysSinceLastBan,
        )
        for p in _Bans.model_validate(payload).players
    ]


SPEC = ProviderSpec(
    name="steam",
    client=SteamSource,
    calls=frozenset({"match_history", "match_details", "bans"}),
    default_url=DEFAULT_STEAM_API_URL,
    url_variable="STEAM_API_URL",
    credential_variable="STEAM_API_KEY",
    credential_kind="key",
    auth="query:key",
    rate_group=RATE_GROUP,
    # Steam Web API terms of use: 100,000 calls/day per key; 5/s is our own gentleness.
    tiers=(RateTier.of("steam", per_second=5, per_day=100_000),),
    # GetMatchHistoryBySequenceNum has a pace of its own, far below the key's: "limited to something
    # like 1 request every 5 seconds" (odota/core svc/scanner.ts); 429 after ~7 calls/min (odota/core#1072)
    paces={SEQUENCE_ENDPOINT: RateTier("steam-sequence", (RateWindow(SEQUENCE_PACE_SECONDS, 1),))},
    error_hook=error_hook,
    client_options=lambda config: {"use_match_details": config.steam_match_details},
)

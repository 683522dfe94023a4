"""ProvidersResource: EnvVar-configured keys, routing, and clients inside a Dagster run."""

from __future__ import annotations

import dagster as dg
import pytest

from crawl_pipeline.defs.providers import ProvidersResource
from crawl_pipeline.defs.resources import PostgresResource
from crawl_pipeline.settings import Settings

from .support import OPENDOTA_KEY, SEED, STEAM_KEY, STRATZ_TOKENS


def test_from_settings_uses_env_var_names_for_keys():
    settings = Settings.from_env({"STEAM_API_KEY": "k1", "STRATZ_TOKENS": "a.jwt.x,b.jwt.y", "OPENDOTA_API_URL": "http://sim:1"})
    resource = ProvidersResource.from_settings(settings)
    assert isinstance(resource.steam_api_key, dg.EnvVar) and resource.steam_api_key == "STEAM_API_KEY"
    assert resource.stratz_tokens == "STRATZ_TOKENS" and resource.opendota_api_key is None
    assert resource.opendota_api_url == "OPENDOTA_API_URL" and resource.stratz_api_url == "https://api.stratz.com"


def test_routes_are_validated():
    with pytest.raises(ValueError, match="steam cannot serve profiles"):
        ProvidersResource(profiles="steam").sources_config()
    config = ProvidersResource(match_details="stratz", rate_limits={"stratz": {"per_second": 5}}).sources_config()
    assert config.routes["match_details"] == "stratz" and config.stratz.tier.describe() == "5/second"


def test_asset_uses_sources_with_the_shared_database(sim, database_url, db, monkeypatch):
    monkeypatch.setenv("OPENDOTA_API_KEY", OPENDOTA_KEY)
    monkeypatch.setenv("STEAM_API_KEY", STEAM_KEY)
    monkeypatch.setenv("STRATZ_TOKENS", ",".join(STRATZ_TOKENS))

    @dg.asset
    def profile(providers: ProvidersResource, postgres: PostgresResource) -> dg.MaterializeResult:
        with providers.open_sources(postgres.db) as sources:
            record = sources.for_call("profiles").player_profile(SEED)
            bans = sources.for_call("bans").player_bans([SEED])
            return dg.MaterializeResult(metadata={"personaname": record.personaname, "bans": len(bans.bans), **sources.snapshot()})

    providers = ProvidersResource(
        opendota_api_url=sim.url, steam_api_url=sim.url, stratz_api_url=sim.url, profiles="stratz",
        opendota_api_key=dg.EnvVar("OPENDOTA_API_KEY"), steam_api_key=dg.EnvVar("STEAM_API_KEY"),
        stratz_tokens=dg.EnvVar("STRATZ_TOKENS"),
    )  # fmt: skip
    result = dg.materialize([profile], resources={"providers": providers, "postgres": PostgresResource(database_url=database_url)})
    assert result.success
    metadata = result.asset_materializations_for_node("profile")[0].metadata
    assert metadata["bans"].value == 1 and metadata["api_calls"].value == 2
    assert db.fetch_value("SELECT sum(requests) FROM api_requests") == 2

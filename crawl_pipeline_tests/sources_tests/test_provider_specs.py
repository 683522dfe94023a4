"""Each provider is declared once (its module's SPEC); everything that cannot derive from the spec
(the Settings and resource fields the UI shows, the configuration reference) is checked against it,
so a new provider cannot be half wired."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from crawl_pipeline import settings as settings_module
from crawl_pipeline.defs.providers import ProvidersResource
from crawl_pipeline.settings import Settings, SettingsError
from crawl_pipeline.sources import registry
from crawl_pipeline.sources.common import BaseSource
from crawl_pipeline.sources.registry import (
    PROVIDERS,
    SPECS,
    SUPPORTED,
    TIERS,
    SourcesConfig,
    default_tier,
    pace_key,
    paces_of,
    tier_of,
)

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.mark.parametrize("name", PROVIDERS)
def test_spec_is_complete_and_consistent(name):
    spec = SPECS[name]
    assert spec.name == name
    assert issubclass(spec.client, BaseSource)
    assert spec.calls and spec.calls <= set(registry.CALLS)
    assert SUPPORTED[name] == spec.calls
    assert spec.auth == "bearer" or spec.auth.startswith("query:")
    assert spec.credential_kind in ("key", "token")
    assert spec.tiers and all(TIERS[t.name] is t for t in spec.tiers)
    assert spec.default_tier(keyed=False) in spec.tiers and spec.default_tier(keyed=True) in spec.tiers


@pytest.mark.parametrize("name", PROVIDERS)
def test_settings_resource_and_sources_config_have_every_provider(name):
    spec = SPECS[name]
    fields = {f.name for f in dataclasses.fields(Settings)}
    assert {spec.url_field, spec.credential_field} <= fields
    assert Settings.from_env({}).__getattribute__(spec.url_field) == spec.default_url
    assert settings_module._KEY_VARIABLES[spec.url_variable] == spec.credential_variable
    resource_fields = ProvidersResource.model_fields
    assert resource_fields[spec.url_field].default == spec.default_url
    assert spec.credential_field in resource_fields
    assert name in {f.name for f in dataclasses.fields(SourcesConfig)}
    documented = (DOCS / "configuration.md").read_text()
    assert spec.url_variable in documented and spec.credential_variable in documented


@pytest.mark.parametrize(
    ("name", "endpoint"), [(name, endpoint) for name in PROVIDERS for endpoint in SPECS[name].paces]
)
def test_every_endpoint_pace_has_its_variable(name, endpoint):
    """Settings cannot import the specs (it is the layer below), so it names the paces' variables
    itself: a pace added to a spec without its variable would be one an operator cannot change."""
    key = pace_key(SPECS[name].paces[endpoint])
    variable = f"{key.upper()}_RATE_LIMIT"
    limits = Settings.from_env({variable: "12/minute"}).rate_limits
    assert limits == {key: {"per_minute": 12}}
    assert [w.limit for w in paces_of(name, limits)[endpoint].windows] == [12]
    assert variable in (DOCS / "configuration.md").read_text()


def test_environment_reaches_every_client_through_the_spec():
    env = {
        "OPENDOTA_API_URL": "http://od.example", "OPENDOTA_API_KEY": "00000000-0000-4000-8000-000000000001",
        "STEAM_API_URL": "http://steam.example", "STEAM_API_KEY": "k",
        "STRATZ_API_URL": "http://stratz.example", "STRATZ_TOKENS": "t1.jwt.x, t2.jwt.y",
    }  # fmt: skip
    config = SourcesConfig.from_settings(Settings.from_env(env))
    for name, spec in SPECS.items():
        provider = config.provider(name)
        assert provider.base_url == env[spec.url_variable]
        assert [k.reveal() for k in provider.keys] == [v.strip() for v in env[spec.credential_variable].split(",")]
        assert default_tier(name, provider) is spec.default_tier(keyed=True)
    resource = ProvidersResource(**{spec.credential_field: env[spec.credential_variable] for spec in SPECS.values()})
    from_resource = resource.sources_config()
    for name in PROVIDERS:
        assert [k.reveal() for k in from_resource.provider(name).keys] == [k.reveal() for k in config.provider(name).keys]


def test_named_tiers_and_bad_names():
    assert tier_of("opendota", None, "free") is TIERS["opendota-free"]
    assert tier_of("stratz", None) is None
    with pytest.raises(ValueError, match="opendota tier must be auto or one of free, premium"):
        tier_of("opendota", None, "gold")
    with pytest.raises(ValueError, match="unknown provider 'dotabuff'"):
        SourcesConfig.from_settings(Settings.from_env({})).provider("dotabuff")


def test_credential_check_of_the_spec_names_where():
    with pytest.raises(SettingsError, match=r"ProvidersResource\.opendota_api_key is not a valid OpenDota key"):
        ProvidersResource(opendota_api_key="not-a-uuid").sources_config()

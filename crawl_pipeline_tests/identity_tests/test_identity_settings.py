"""TRACKED_IDENTITIES (JSON or @file) and its simple form TRACKED_ME / TRACKED_TEAMMATES, parsed in settings.py."""

from __future__ import annotations

import json

import pytest

from crawl_pipeline.defs.identity.resources import TrackedIdentities
from crawl_pipeline.defs.resources import build_resources
from crawl_pipeline.domain.identity import to_steamid64
from crawl_pipeline.domain.roles import Identities
from crawl_pipeline.settings import Settings, SettingsError

SEED_002 = {"me": [111, 222], "teammates": {"alice": [333, 444], "bob": [555]}}


def identities(env: dict) -> Identities | None:
    return Settings.from_env(env).identities


def test_the_seed_shape_from_json_and_from_a_file(tmp_path):
    expected = Identities((111, 222), {"alice": (333, 444), "bob": (555,)})
    assert identities({"TRACKED_IDENTITIES": json.dumps(SEED_002)}) == expected
    path = tmp_path / "identities.json"
    path.write_text(json.dumps(SEED_002, indent=2))
    assert identities({"TRACKED_IDENTITIES": f"@{path}"}) == expected
    # steamid64s and ids as strings are account ids too; teammates may be left out
    steam = {"me": [str(to_steamid64(111)), to_steamid64(222)]}
    assert identities({"TRACKED_IDENTITIES": json.dumps(steam)}) == Identities((111, 222), {})


def test_the_simple_form_names_each_teammate_by_its_id():
    found = identities({"TRACKED_ME": "111", "TRACKED_TEAMMATES": "333, 555"})
    assert found == Identities((111,), {"333": (333,), "555": (555,)})
    assert identities({"TRACKED_ME": "111"}) == Identities((111,), {})
    assert identities({}) is None and identities({"TRACKED_IDENTITIES": "  "}) is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TRACKED_IDENTITIES": '{"me": [111],'}, r"^TRACKED_IDENTITIES is not valid JSON: .* line 1 column"),
        ({"TRACKED_IDENTITIES": "[111]"}, r"^TRACKED_IDENTITIES must be a JSON object"),
        ({"TRACKED_IDENTITIES": '{"me": []}'}, r"^TRACKED_IDENTITIES: me is empty"),
        ({"TRACKED_IDENTITIES": '{"teammates": {"alice": [333]}}'}, r"^TRACKED_IDENTITIES: me is empty"),
        ({"TRACKED_IDENTITIES": '{"me": 111}'}, r"^TRACKED_IDENTITIES: me must be a list of account ids"),
        ({"TRACKED_IDENTITIES": '{"me": ["abc"]}'}, r"^TRACKED_IDENTITIES: me: invalid account id 'abc': not an integer"),
        ({"TRACKED_IDENTITIES": '{"me": [0]}'}, r"^TRACKED_IDENTITIES: me: invalid account id 0"),
        ({"TRACKED_IDENTITIES": '{"me": [true]}'}, r"^TRACKED_IDENTITIES: me has true, not an account id"),
        ({"TRACKED_IDENTITIES": '{"me": [1.5]}'}, r"^TRACKED_IDENTITIES: me has 1.5, not an account id"),
        ({"TRACKED_IDENTITIES": '{"me": [111, 111]}'}, r"^TRACKED_IDENTITIES: account 111 is listed twice in me"),
        (
            {"TRACKED_IDENTITIES": json.dumps({"me": [111], "teammates": {"alice": [to_steamid64(111)]}})},
            r"^TRACKED_IDENTITIES: account 111 is listed in both me and teammates.alice",
        ),
        (
            {"TRACKED_IDENTITIES": '{"me": [111], "teammates": {"alice": [333], "bob": [333]}}'},
            r"^TRACKED_IDENTITIES: account 333 is listed in both teammates.alice and teammates.bob",
        ),
        (
            {"TRACKED_IDENTITIES": '{"me": [111], "teammates": {"alice": [333], "alice": [444]}}'},
            r"^TRACKED_IDENTITIES: key 'alice' given twice",
        ),
        ({"TRACKED_IDENTITIES": '{"me": [111], "teammates": {"alice": []}}'}, r"teammates.alice is empty"),
        ({"TRACKED_IDENTITIES": '{"me": [111], "teammates": {"me": [333]}}'}, r"teammate name 'me' .* reserved"),
        ({"TRACKED_IDENTITIES": '{"me": [111], "teammates": {"": [333]}}'}, r"teammate name '' is empty"),
        ({"TRACKED_IDENTITIES": '{"me": [111], "teammates": [333]}'}, r"teammates must be an object"),
        ({"TRACKED_IDENTITIES": '{"me": [111], "teamates": {}}'}, r"unknown key\(s\) 'teamates'"),
        ({"TRACKED_IDENTITIES": '{"me": [111]}', "TRACKED_ME": "111"}, r"both set: keep one form"),
        ({"TRACKED_IDENTITIES": "@/nonexistent/identities.json"}, r"^TRACKED_IDENTITIES=@/nonexistent/identities.json: cannot read"),
        ({"TRACKED_ME": "111 222"}, r"^TRACKED_ME takes one account id"),
        ({"TRACKED_ME": "x"}, r"^TRACKED_ME: invalid account id"),
        ({"TRACKED_TEAMMATES": "333"}, r"^TRACKED_TEAMMATES is set without TRACKED_ME"),
        ({"TRACKED_ME": "111", "TRACKED_TEAMMATES": "333 333"}, r"^TRACKED_TEAMMATES: an account is listed twice"),
        ({"TRACKED_ME": "111", "TRACKED_TEAMMATES": "111"}, r"^TRACKED_TEAMMATES: an account is listed twice"),
    ],
)
def test_one_clear_line_naming_the_variable(env, message):
    with pytest.raises(SettingsError, match=message) as caught:
        Settings.from_env(env)
    assert "\n" not in str(caught.value)


def test_a_bad_file_is_named_with_the_variable(tmp_path):
    path = tmp_path / "identities.json"
    path.write_text('{"me": [111, 111]}')
    with pytest.raises(SettingsError, match=rf"^TRACKED_IDENTITIES \(@{path}\): account 111 is listed twice in me"):
        Settings.from_env({"TRACKED_IDENTITIES": f"@{path}"})


def test_the_resource_carries_the_settings_and_validates_the_same_way():
    resource = build_resources(Settings.from_env({"TRACKED_IDENTITIES": json.dumps(SEED_002)}))["identities"]
    assert isinstance(resource, TrackedIdentities)
    assert resource.me == [111, 222] and resource.teammates == {"alice": [333, 444], "bob": [555]}
    assert resource.identities() == Identities((111, 222), {"alice": (333, 444), "bob": (555,)})
    assert build_resources(Settings.from_env({}))["identities"].identities() is None
    with pytest.raises(SettingsError, match=r"^resource identities: account 111 is listed in both me and teammates.x"):
        TrackedIdentities(me=[111], teammates={"x": [111]}).identities()
    with pytest.raises(SettingsError, match=r"^resource identities: me is empty"):
        TrackedIdentities(teammates={"x": [111]}).identities()

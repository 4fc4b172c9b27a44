"""The settings object: one typed object read from ``data/config.toml`` with its defaults in one
place. A misspelt or unknown key, or a value of the wrong kind, stops the command line and the app
with a message naming the key and the file; the suppression threshold's words follow the setting."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from engagement import cli
from engagement.settings import CONFIG_FILE, Settings, SettingsError, load_settings, parse_settings

ROOT = Path(__file__).resolve().parent.parent


def test_the_shipped_file_loads_and_every_default_is_written_once():
    shipped = load_settings(CONFIG_FILE)
    assert isinstance(shipped, Settings)
    # The file states the school's choices; a key left out takes the one default in settings.py.
    assert parse_settings({}).scoring.families.reach == shipped.scoring.families.reach


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"scoring": {"families": {"reech": 0.4}}}, "unknown setting scoring.families.reech (did you mean reach?)"),
        ({"scoring": {"overall": {"families": "0.4"}}}, "scoring.overall.families must be a number, not '0.4'"),
        ({"privacy": {"suppression_threshold": 10.5}}, "privacy.suppression_threshold must be a whole number"),
        ({"mapp": {}}, "unknown setting mapp"),
        ({"window": {"default": "year"}}, "window.default cannot be 'year'"),
        ({"map": {"rings_km": [1, "two"]}}, "map.rings_km.1 must be a number, not 'two'"),
    ],
)
def test_a_wrong_key_or_value_is_named_with_its_file(raw, message):
    with pytest.raises(SettingsError) as refused:
        parse_settings(raw, "trust.toml")
    assert str(refused.value).startswith("trust.toml: ") and message in str(refused.value)


def test_a_file_that_is_not_toml_is_named(tmp_path):
    broken = tmp_path / "config.toml"
    broken.write_text("[privacy]\nsuppression_threshold = ten\n")
    with pytest.raises(SettingsError, match=f"{broken}: not valid TOML"):
        load_settings(broken)


def test_the_command_line_stops_on_a_misspelt_key(tmp_path, monkeypatch, capsys):
    broken = tmp_path / "config.toml"
    broken.write_text("[scoring.overall]\nfamilies = 0.4\nagencys = 0.2\n")
    monkeypatch.setenv("ENGAGEMENT_CONFIG", str(broken))
    assert cli.main(["score", "--db", str(tmp_path / "s.db")]) == 2
    err = capsys.readouterr().err
    assert f"{broken}: unknown setting scoring.overall.agencys (did you mean agencies?)" in err
    assert not (tmp_path / "s.db").exists()  # stopped before it touched the store


def test_check_command_says_all_is_well(capsys):
    assert cli.main(["check"]) == 0
    assert "in order" in capsys.readouterr().out


def test_the_app_stops_on_a_weight_that_is_not_a_number(tmp_path, monkeypatch):
    broken = tmp_path / "config.toml"
    broken.write_text('[scoring.families]\nreach = "high"\n')
    monkeypatch.setenv("ENGAGEMENT_CONFIG", str(broken))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'app.db'}")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception
    assert at.error[0].value == f"The app cannot start: {broken}: scoring.families.reach must be a number, not 'high'"
    assert not at.title


def test_the_suppression_words_follow_the_setting():
    assert parse_settings({"privacy": {"suppression_threshold": 5}}).privacy.fewer_than == "fewer than 5"

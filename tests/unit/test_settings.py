"""The settings helper: each kind of setting names the variable, what it takes and what it got."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from hub.settings import FLAG, INTEGER, NETWORKS, NUMBER, PATH, SHARE, TEXT, TIME_ZONE, SettingError, Settings, read
from mocks.doj.faults import Window
from mocks.doj.settings import WINDOWS, SwitchSettings


@pytest.mark.parametrize(
    ("kind", "bad", "message"),
    [
        (INTEGER, "ten", "CCPOR_X: expected an integer, got 'ten'"),
        (INTEGER, "2.5", "CCPOR_X: expected an integer, got '2.5'"),
        (NUMBER, "fast", "CCPOR_X: expected a number, got 'fast'"),
        (FLAG, "maybe", "CCPOR_X: expected 1 or 0 (or true/false, yes/no, on/off), got 'maybe'"),
        (
            NETWORKS,
            "10.0.0.5, proxy",
            "CCPOR_X: expected IP addresses or networks, comma-separated (10.0.0.5,10.1.0.0/16), got '10.0.0.5, proxy'",
        ),  # fmt: skip
        (
            TIME_ZONE,
            "Pacific/Atlantis",
            "CCPOR_X: expected an IANA time zone such as America/Los_Angeles, got 'Pacific/Atlantis'",
        ),  # fmt: skip
        (TIME_ZONE, "America", "CCPOR_X: expected an IANA time zone such as America/Los_Angeles, got 'America'"),
        (SHARE, "1.5", "CCPOR_X: expected a share between 0 and 1, got '1.5'"),
        (SHARE, "half", "CCPOR_X: expected a share between 0 and 1, got 'half'"),
        (WINDOWS, "2:00-3:00", "CCPOR_X: expected daily UTC windows HH:MM-HH:MM, comma-separated, got '2:00-3:00'"),
    ],
)
def test_a_wrong_value_is_a_setting_error_naming_the_variable(monkeypatch, kind, bad, message):
    monkeypatch.setenv("CCPOR_X", bad)
    with pytest.raises(SettingError) as caught:
        read("CCPOR_X", kind, None)
    assert str(caught.value) == message and isinstance(caught.value, ValueError)
    assert (caught.value.name, caught.value.given) == ("CCPOR_X", bad)


@pytest.mark.parametrize(
    ("kind", "raw", "value"),
    [
        (INTEGER, " 42 ", 42),
        (NUMBER, "0.25", 0.25),
        (FLAG, "Yes", True),
        (FLAG, "off", False),
        (PATH, "~/keys", Path("~/keys").expanduser()),
        (TEXT, "CADOJ0001", "CADOJ0001"),
        (NETWORKS, " 10.0.0.5 ,, 10.1.0.0/16", ("10.0.0.5", "10.1.0.0/16")),
        (TIME_ZONE, "Pacific/Honolulu", "Pacific/Honolulu"),
        (SHARE, "1", 1.0),
        (WINDOWS, "02:00-02:30", (Window(time(2, 0), time(2, 30)),)),
    ],
)
def test_a_right_value_is_read_as_its_kind_and_a_blank_one_is_the_default(monkeypatch, kind, raw, value):
    monkeypatch.setenv("CCPOR_X", raw)
    assert read("CCPOR_X", kind, None) == value
    monkeypatch.setenv("CCPOR_X", "  ")
    assert read("CCPOR_X", kind, "default") == "default"
    monkeypatch.delenv("CCPOR_X")
    assert read("CCPOR_X", kind, lambda: "computed") == "computed"


def test_settings_read_their_variables_when_made_and_stop_at_a_wrong_one(monkeypatch):
    monkeypatch.setenv("CCPOR_PAGE_SIZE", "50")
    monkeypatch.setenv("CCPOR_TRUSTED_PROXIES", "10.0.0.5")
    assert (Settings().page_size, Settings().trusted_proxies) == (50, ("10.0.0.5",))
    monkeypatch.setenv("CCPOR_PAGE_SIZE", "fifty")
    with pytest.raises(SettingError, match="^CCPOR_PAGE_SIZE: expected an integer, got 'fifty'$"):
        Settings()
    assert Settings(page_size=10).page_size == 10  # a value given in code is not read from the environment


def test_the_switch_shares_the_channel_s_variables_with_the_hub_and_keeps_its_own_data(monkeypatch, tmp_path):
    monkeypatch.setenv("CCPOR_DATA_DIR", str(tmp_path))
    for name in ("CCPOR_DOJ_DATA_DIR", "CCPOR_CARPOS_KEY_DIR", "CCPOR_DOJ_ORI", "CCPOR_CERT_WARN_DAYS"):
        monkeypatch.delenv(name, raising=False)
    switch = SwitchSettings()
    assert (switch.data_dir, switch.key_dir) == (tmp_path / "doj", tmp_path / "carpos-keys")
    monkeypatch.setenv("CCPOR_DOJ_ORI", "CADOJ0001")
    monkeypatch.setenv("CCPOR_CERT_WARN_DAYS", "7")
    monkeypatch.setenv("CCPOR_CARPOS_KEY_DIR", str(tmp_path / "k"))
    hub, switch = Settings(), SwitchSettings()
    assert (switch.ori, switch.cert_warn_days) == (hub.doj_ori, hub.cert_warn_days) == ("CADOJ0001", 7)
    assert switch.resolved_hub_cert_file == hub.resolved_hub_cert_file == tmp_path / "k" / "hub.pem"
    monkeypatch.setenv("CCPOR_CERT_WARN_DAYS", "a week")
    with pytest.raises(SettingError, match="^CCPOR_CERT_WARN_DAYS: expected an integer"):
        SwitchSettings()

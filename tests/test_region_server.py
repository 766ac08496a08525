"""hallq-region itself: its config, its schema on a real PostgreSQL, its commands, and the
server on loopback."""

from __future__ import annotations

import hashlib

import psycopg
import pytest
from pg_support import RegionProcess

from hall.config import ConfigError
from region.config import parse_config


def test_the_region_serves_once_migrated_with_a_hall_added(region_dsn, tmp_path):
    region = RegionProcess(region_dsn, tmp_path)
    migrated = region.cli("migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert "up to date" in migrated.stdout  # the template was migrated already
    token = region.add_hall("east", "城东营业厅")
    assert len(token) >= 40
    refused = region.cli("add-hall", "east", "again")
    assert refused.returncode == 1 and "already" in refused.stderr
    bad = region.cli("add-hall", "East Hall", "x")
    assert bad.returncode == 2
    with psycopg.connect(region_dsn) as conn:
        stored = conn.execute("SELECT token_sha256 FROM halls WHERE id = 'east'").fetchone()[0]
    assert bytes(stored) == hashlib.sha256(token.encode()).digest()

    rotated = region.cli("hall-token", "east")
    assert rotated.returncode == 0 and rotated.stdout.strip() != token
    assert region.cli("hall-token", "west").returncode == 1

    region.start()
    try:
        health = region.get("/healthz")
        assert health.status_code == 200
        assert health.json()["ok"] is True and health.json()["halls"] == 1
        missing = region.get("/api/nothing-here")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"
    finally:
        region.stop()


def test_the_config_refuses_unknown_keys_and_bad_values():
    good = {"region": {"listen": "127.0.0.1:9000", "dsn": "dbname=hallq"}}
    config = parse_config(good)
    assert (config.host, config.port, config.dsn) == ("127.0.0.1", 9000, "dbname=hallq")
    for raw, named in [
        ({"region": {"dsn": "dbname=x", "lisen": "1.2.3.4:5"}}, "region.lisen"),
        ({"region": {"dsn": "dbname=x"}, "halls": {}}, "halls"),
        ({"region": {"dsn": "dbname=x", "listen": "nowhere"}}, "region.listen"),
        ({"region": {"dsn": "not a dsn at all"}}, "region.dsn"),
        ({"region": {}}, "region.dsn"),
        ({"region": {"dsn": "dbname=x", "public_url": "ftp://x"}}, "region.public_url"),
    ]:
        with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
            parse_config(raw)


def test_a_hall_config_names_its_region_with_all_three_keys_or_none():
    from support import demo_toml

    from hall.config import parse_config as parse_hall

    assert parse_hall(demo_toml()).region is None
    raw = demo_toml()
    raw["region"] = {"url": "https://hallq.example.com/", "hall_id": "east",
                     "token": "x" * 43}
    link = parse_hall(raw).region
    assert (link.url, link.hall_id) == ("https://hallq.example.com", "east")
    for change, named in [
        ({"url": "ftp://x"}, "region.url"),
        ({"hall_id": "East Hall"}, "region.hall_id"),
        ({"token": "short"}, "region.token"),
        ({"tokn": "x" * 20}, "region.tokn"),
    ]:
        raw = demo_toml()
        raw["region"] = {"url": "https://h.example.com", "hall_id": "east",
                         "token": "x" * 43, **change}
        with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
            parse_hall(raw)
    raw = demo_toml()
    raw["region"] = {"url": "https://h.example.com", "hall_id": "east"}
    with pytest.raises(ConfigError, match=r"region\.token: missing"):
        parse_hall(raw)

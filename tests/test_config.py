import os
import stat

import pytest

from matchmaker import create_app
from matchmaker.config import ConfigError, database_uri


def test_production_refuses_a_missing_or_weak_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("MATCHMAKER_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"INSTANCE_PATH": str(tmp_path)})
    for weak in ("changeme", "dev", "short-but-not-default"):
        monkeypatch.setenv("SECRET_KEY", weak)
        with pytest.raises(ConfigError):
            create_app({"INSTANCE_PATH": str(tmp_path)})
    monkeypatch.setenv("SECRET_KEY", "9" * 8 + "a-real-random-value-of-length-40")
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert not (tmp_path / "secret_key").exists()


def test_local_secret_is_generated_once_and_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("MATCHMAKER_ENV", raising=False)
    first = create_app({"INSTANCE_PATH": str(tmp_path)}).config["SECRET_KEY"]
    second = create_app({"INSTANCE_PATH": str(tmp_path)}).config["SECRET_KEY"]
    assert first == second and len(first) >= 32
    mode = stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode)
    assert mode == 0o600
    other = create_app({"INSTANCE_PATH": str(tmp_path / "other")}).config["SECRET_KEY"]
    assert other != first


def test_instance_path_holds_the_default_database(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/matchmaker.db"
    assert app.config["REDIS_URL"] is None and app.config["ELASTICSEARCH_URL"] is None


def test_database_url_forms():
    assert database_uri("postgres://u@h/db", "/i") == "postgresql+psycopg://u@h/db"
    assert database_uri("postgresql://u@h/db", "/i") == "postgresql+psycopg://u@h/db"
    assert database_uri("postgresql+psycopg://u@h/db", "/i") == "postgresql+psycopg://u@h/db"
    assert database_uri(None, "/i") == "sqlite:////i/matchmaker.db"


def test_business_numbers_are_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("CLAIM_CAP", "5")
    monkeypatch.setenv("HOLIDAYS", "2026-10-01, 2026-10-02")
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["CLAIM_CAP"] == 5
    assert [d.isoformat() for d in app.config["HOLIDAYS"]] == ["2026-10-01", "2026-10-02"]
    monkeypatch.setenv("HOLIDAYS", "2026-13-01")
    with pytest.raises(ConfigError, match="HOLIDAYS"):
        create_app({"INSTANCE_PATH": str(tmp_path)})


def test_working_weekends_and_search_prefix_are_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKING_WEEKENDS", "2026-09-27;2026-10-10")
    monkeypatch.setenv("ELASTICSEARCH_INDEX_PREFIX", "huzhou")
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert [d.isoformat() for d in app.config["WORKING_WEEKENDS"]] == ["2026-09-27",
                                                                        "2026-10-10"]
    assert app.config["ELASTICSEARCH_INDEX_PREFIX"] == "huzhou"
    monkeypatch.setenv("WORKING_WEEKENDS", "someday")
    with pytest.raises(ConfigError, match="WORKING_WEEKENDS"):
        create_app({"INSTANCE_PATH": str(tmp_path)})

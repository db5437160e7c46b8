import pytest

from shopcommon.config import MissingSetting, database_url


@pytest.fixture
def env(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("VOLUMES_DIR", raising=False)
    return monkeypatch


def test_database_url_comes_first(env, tmp_path):
    env.setenv("DATABASE_URL", "postgresql+psycopg://users@db_users:5432/users")
    env.setenv("VOLUMES_DIR", str(tmp_path))
    assert database_url("users") == "postgresql+psycopg://users@db_users:5432/users"
    assert not (tmp_path / "users").exists()


def test_sqlite_file_under_volumes_dir_otherwise(env, tmp_path):
    env.setenv("VOLUMES_DIR", str(tmp_path))
    assert database_url("users") == f"sqlite:///{tmp_path / 'users' / 'users.db'}"
    assert (tmp_path / "users").is_dir()


def test_neither_setting_stops_the_service_naming_both(env):
    with pytest.raises(MissingSetting) as missing:
        database_url("users")
    assert str(missing.value) == ("users has no database: set DATABASE_URL, or VOLUMES_DIR to keep "
                                  "its SQLite file under that folder")

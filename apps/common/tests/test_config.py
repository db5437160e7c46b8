import pytest

from shopcommon.config import MissingSetting, database_url


@pytest.fixture
def env(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("VOLUMES_DIR", raising=False)
    monkeypatch.delenv("DATABASE_PASSWORD_FILE", raising=False)
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


def test_the_password_comes_from_its_file(env, tmp_path):
    secret = tmp_path / "password"
    secret.write_text("s3cr:t/@pw\n")  # characters a URL must escape
    env.setenv("DATABASE_URL", "postgresql+psycopg://users@db_users:5432/users")
    env.setenv("DATABASE_PASSWORD_FILE", str(secret))
    from sqlalchemy.engine import make_url
    url = make_url(database_url("users"))
    assert (url.username, url.password, url.host, url.database) == ("users", "s3cr:t/@pw", "db_users", "users")


@pytest.mark.parametrize("content, problem", [(None, "cannot be read"), ("", "is empty")])
def test_an_unreadable_or_empty_password_file_stops_the_service(env, tmp_path, content, problem):
    secret = tmp_path / "password"
    if content is not None:
        secret.write_text(content)
    env.setenv("DATABASE_URL", "postgresql+psycopg://users@db_users:5432/users")
    env.setenv("DATABASE_PASSWORD_FILE", str(secret))
    with pytest.raises(MissingSetting, match=f"DATABASE_PASSWORD_FILE {secret} {problem}"):
        database_url("users")

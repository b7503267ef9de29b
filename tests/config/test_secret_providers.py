"""Secrets providers: environment variables (the default), a `.env` file, chosen per project or per
secret, with config errors at file:line and every value masked. (Airflow's provider runs against real
Airflow in tests/integrations/airflow/test_secrets.py.)"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from datakit.config import load_project, validate_project
from datakit.config.scaffold import init_project
from datakit.connectors.from_config import project_secrets
from datakit.errors import ConfigError, SecretError
from datakit.log import configure, forget_secrets, get_logger, redact
from tests.config.helpers import write

MAPPING = """\
secrets:
  shop_token:
    env_var_dev: SHOP_TOKEN_DEV
    env_var_prod: SHOP_TOKEN_PROD
  hook_url:
    env_var: HOOK_URL
    provider: env
  optional_key:
    env_var: OPTIONAL_KEY
    required: false
"""


@pytest.fixture(autouse=True)
def _forget() -> None:
    yield
    forget_secrets()


def project(tmp_path: Path, *, provider: str | None = None, mapping: str = MAPPING) -> Path:
    root = tmp_path / "shop"
    init_project(root, name="shop")
    if provider is not None:
        with (root / "datakit.yaml").open("a", encoding="utf-8") as handle:
            handle.write(f"secrets:\n  provider: {provider}\n")
    write(root, "config/secrets_mapping.yaml", mapping)
    return root


def test_env_provider_is_todays_behaviour(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = project(tmp_path)
    monkeypatch.setenv("SHOP_TOKEN_DEV", "env-value-0001")
    secrets = project_secrets(load_project(root, environment="dev"))
    assert secrets.provider("shop_token").name == "env"
    assert secrets.resolve("shop_token").get_secret_value() == "env-value-0001"  # type: ignore[union-attr]
    monkeypatch.delenv("SHOP_TOKEN_DEV")
    with pytest.raises(SecretError, match="secret 'shop_token' is not set for environment 'dev'") as caught:
        project_secrets(load_project(root, environment="dev")).resolve("shop_token")
    assert caught.value.hint == "set SHOP_TOKEN_DEV"


def test_dotenv_provider_reads_the_file_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path, provider="dotenv")
    write(
        root,
        ".env",
        """\
        # the shop's secrets, never committed
        export SHOP_TOKEN_DEV="from-dotenv-7f3a9c"
        HOOK_URL=https://hooks.example.test/abc
        """,
    )
    monkeypatch.delenv("SHOP_TOKEN_DEV", raising=False)
    monkeypatch.setenv("HOOK_URL", "https://hooks.example.test/from-env")
    secrets = project_secrets(load_project(root, environment="dev"))
    assert secrets.provider("shop_token").name == "dotenv"
    assert secrets.resolve("shop_token").get_secret_value() == "from-dotenv-7f3a9c"  # type: ignore[union-attr]
    # `hook_url` says `provider: env`: the project's default does not apply to it
    assert secrets.provider("hook_url").name == "env"
    assert secrets.resolve("hook_url").get_secret_value() == "https://hooks.example.test/from-env"  # type: ignore[union-attr]
    assert secrets.resolve("optional_key") is None
    monkeypatch.setenv("SHOP_TOKEN_DEV", "exported-wins-22")  # as with docker compose and python-dotenv
    assert project_secrets(load_project(root, environment="dev")).resolve("shop_token") is not None
    assert project_secrets(load_project(root, environment="dev")).value("shop_token") == "exported-wins-22"


def test_a_value_in_the_dotenv_file_is_masked_from_load_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    root = project(tmp_path, provider="dotenv")
    write(root, ".env", "SHOP_TOKEN_DEV=dotenv-canary-93b1\n")
    monkeypatch.delenv("SHOP_TOKEN_DEV", raising=False)
    load_project(root, environment="dev")  # nothing resolved yet: the file's values are known already
    assert redact("driver said: password dotenv-canary-93b1 rejected") == "driver said: password *** rejected"
    configure(logging.INFO)
    with caplog.at_level(logging.INFO):
        get_logger("datakit.test").info("token=%s", "dotenv-canary-93b1")
    assert "dotenv-canary-93b1" not in caplog.text


def test_per_secret_provider_overrides_the_project_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mapping = MAPPING + "  from_file:\n    env_var: FROM_FILE\n    provider: dotenv\n"
    root = project(tmp_path, mapping=mapping)  # the project's default stays env
    write(
        root, "datakit.yaml", (root / "datakit.yaml").read_text() + "secrets: {dotenv: config/.secrets.env}\n"
    )
    write(root, "config/.secrets.env", "FROM_FILE=file-only-55c2\n")
    monkeypatch.setenv("SHOP_TOKEN_DEV", "env-value-0002")
    secrets = project_secrets(load_project(root, environment="dev"))
    assert secrets.resolve("from_file").get_secret_value() == "file-only-55c2"  # type: ignore[union-attr]
    assert secrets.resolve("shop_token").get_secret_value() == "env-value-0002"  # type: ignore[union-attr]


def test_dotenv_errors_name_the_file_and_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = project(tmp_path, provider="dotenv")
    monkeypatch.delenv("SHOP_TOKEN_DEV", raising=False)
    with pytest.raises(SecretError, match=r"shop/\.env: no such \.env file") as caught:
        project_secrets(load_project(root, environment="dev")).resolve("shop_token")
    assert "secrets.dotenv" in (caught.value.hint or "")
    write(root, ".env", "OK=1\nSHOP_TOKEN_DEV='unterminated\nOTHER=2\n")
    with pytest.raises(SecretError, match=r"shop/\.env:2: cannot parse this line") as caught:
        project_secrets(load_project(root, environment="dev")).resolve("shop_token")
    assert "NAME=value" in (caught.value.hint or "")
    # `validate --check-secrets` says the same, per secret
    validation = validate_project(root, environment="dev", check_secrets=True)
    (problem,) = [
        p for p in validation.problems if "shop_token" in (p.field or "") or "shop_token" in p.message
    ]
    assert ".env:2: cannot parse" in problem.message


def test_unset_dotenv_secret_says_where_to_set_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = project(tmp_path, provider="dotenv")
    write(root, ".env", "SOMETHING_ELSE=1\n")
    monkeypatch.delenv("SHOP_TOKEN_DEV", raising=False)
    with pytest.raises(SecretError) as caught:
        project_secrets(load_project(root, environment="dev")).resolve("shop_token")
    assert caught.value.hint == f"set SHOP_TOKEN_DEV in {root / '.env'} (or in the environment)"


@pytest.mark.parametrize(
    ("datakit_yaml", "mapping_extra", "where", "message", "suggestion"),
    [
        (
            "secrets: {provider: airflw}\n",
            "",
            "datakit.yaml:",
            "invalid value 'airflw'",
            "did you mean 'airflow'",
        ),
        (
            "",
            "  x:\n    env_var: X\n    provider: dotnev\n",
            "secrets_mapping.yaml:13:",
            "invalid value 'dotnev'",
            "did you mean 'dotenv'",
        ),
        (
            "",
            "  x:\n    env_var: X\n    airflow: {connection: wh, variable: x}\n",
            "secrets_mapping.yaml:13:",
            "name either an Airflow connection or an Airflow variable",
            "`connection: <conn id>`",
        ),
        (
            "",
            "  x:\n    env_var: X\n    airflow: {connection: wh}\n",
            "secrets_mapping.yaml:13:",
            "secret 'x' is read by the env provider",
            "add `provider: airflow` to this secret",
        ),
    ],
)
def test_config_errors_point_at_file_line_and_field(
    tmp_path: Path, datakit_yaml: str, mapping_extra: str, where: str, message: str, suggestion: str
) -> None:
    root = project(tmp_path, mapping=MAPPING + mapping_extra)
    if datakit_yaml:
        write(root, "datakit.yaml", (root / "datakit.yaml").read_text() + datakit_yaml)
    with pytest.raises(ConfigError) as caught:
        load_project(root, environment="dev")
    text = str(caught.value)
    assert where in text and message in text and suggestion in text, text

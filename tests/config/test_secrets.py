"""Secrets: the reference rule, resolution per environment, tenant limits, and redaction everywhere."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel, SecretStr

from datakit.config import Secrets
from datakit.config.models.secrets import SecretSpec
from datakit.config.secrets import mapping_key
from datakit.errors import SecretError
from datakit.log import configure, get_logger, redact
from tests.config.helpers import PAGILA, SEED, copy_project, write

MAPPING = {
    "api_token": SecretSpec(env_var_dev="API_DEV", env_var_prod="API_PROD"),
    "optional_key": SecretSpec(env_var="OPTIONAL_ANY", required=False),
    "acme_token": SecretSpec(env_var="ACME_TOKEN"),
}


def test_reference_rule_exact_then_seed_suffix() -> None:
    keys = {"my_api_token", "x_secret_key"}
    assert mapping_key("my_api_token", keys) == "my_api_token"
    assert mapping_key("my_api_token_secret_key", keys) == "my_api_token"
    assert mapping_key("x_secret_key", keys) == "x_secret_key"  # an exact match wins
    assert mapping_key("my_api_tokn", keys) is None


def test_resolution_per_environment_and_redaction() -> None:
    dev = Secrets(MAPPING, "dev", {"API_DEV": "dev-canary-1", "API_PROD": "prod-canary-2"})
    prod = Secrets(MAPPING, "prod", {"API_DEV": "dev-canary-1", "API_PROD": "prod-canary-2"})
    value = dev.resolve("api_token_secret_key")
    assert isinstance(value, SecretStr) and value.get_secret_value() == "dev-canary-1"
    assert prod.resolve("api_token") == SecretStr("prod-canary-2")
    for shown in (repr(value), str(value), f"{value}", json.dumps({"v": str(value)})):
        assert "dev-canary-1" not in shown

    class Holder(BaseModel):
        token: SecretStr

    assert "dev-canary-1" not in Holder(token=value).model_dump_json()


def test_missing_and_optional_secrets() -> None:
    secrets = Secrets(MAPPING, "stage", {})
    with pytest.raises(SecretError) as caught:
        secrets.resolve("api_token")
    assert "not set for environment 'stage'" in str(caught.value)
    assert "env_var_stage" in str(caught.value)  # the mapping has no variable for stage: say so
    assert secrets.resolve("optional_key") is None
    with pytest.raises(SecretError, match="did you mean 'api_token'"):
        secrets.resolve("api_tokn")


def test_tenant_cannot_resolve_another_tenants_secret() -> None:
    environ = {"ACME_TOKEN": "acme-canary", "API_DEV": "shared-canary"}
    acme = Secrets(
        MAPPING, "dev", environ, allowed=frozenset({"acme_token"}), aliases={"api_token": "acme_token"}
    )
    value = acme.resolve("api_token")
    assert value is not None and value.get_secret_value() == "acme-canary"
    with pytest.raises(SecretError, match="not available here"):
        acme.resolve("optional_key")


def test_log_filter_masks_revealed_secrets(caplog: pytest.LogCaptureFixture) -> None:
    Secrets(MAPPING, "dev", {"API_DEV": "canary-in-the-log"}).resolve("api_token")
    assert redact("connect failed: password=canary-in-the-log") == "connect failed: password=***"
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = configure(logging.INFO, Collect())
    try:
        log = get_logger("test")
        log.info("token is %s", "canary-in-the-log")
        try:
            raise RuntimeError("driver said canary-in-the-log")
        except RuntimeError:
            log.exception("failed")
    finally:
        logging.getLogger("datakit").removeHandler(handler)
    assert records and not any("canary-in-the-log" in r for r in records)
    assert "token is ***" in records[0]


CANARIES = {
    "PAGILA_PASSWORD_DEV": "CANARY-pagila-9f1c",
    "WAREHOUSE_PASSWORD_DEV": "CANARY-warehouse-77aa",
    "ACME_WAREHOUSE_PASSWORD": "CANARY-acme-0b12",
    "MY_API_TOKEN_DEV": "CANARY-api-5e5e",
}


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    import os

    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("ENVIRONMENT", "DATAKIT_"))}
    full_env.update(env)
    code = "from datakit.cli.app import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=full_env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def test_canary_secrets_never_appear_in_cli_output(tmp_path: Path) -> None:
    """Plant secret values, run every command on valid and broken projects: no value may leak."""
    good = copy_project(PAGILA, tmp_path / "good")
    seed = copy_project(SEED, tmp_path / "seed")
    broken = copy_project(PAGILA, tmp_path / "broken")
    write(broken, "config/sources/broken.yaml", "source:\n  name: [\n")
    text = (broken / "config/sources/pagila.yaml").read_text()
    (broken / "config/sources/pagila.yaml").write_text(text.replace("port: 5432", "port: CANARY-pagila-9f1c"))
    runs = [
        (["validate"], good),
        (["validate", "--check-secrets"], good),
        (["validate", "--json", "--check-secrets"], good),
        (["list"], good),
        (["list", "--json"], good),
        (["--debug", "-p", ".", "list", "--json"], seed),
        (["-p", ".", "validate", "--check-secrets"], seed),
        (["validate"], broken),
        (["validate", "--json"], broken),
        (["--debug", "validate"], broken),
        (["list"], broken),
        (["-p", str(good), "validate", "--env", "prod", "--check-secrets"], tmp_path),
    ]
    outputs = []
    for args, cwd in runs:
        result = _cli(args, CANARIES, cwd)
        outputs.append((args, result.returncode, result.stdout + result.stderr))
    # The broken project's own text holds a canary (a user pasted a secret into the YAML): even then the
    # value is masked once it is known as a secret, and the valid runs never print one.
    for args, _, output in outputs:
        for value in CANARIES.values():
            assert value not in output, (args, output)
    assert [code for _, code, _ in outputs] == [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0]


def test_weak_secrets_are_masked_as_whole_tokens_strong_ones_everywhere() -> None:
    """The token rule of `datakit.masking`: a short or common-word value only where it stands alone."""
    from datakit.log import register_secret

    register_secret("datakit")  # a common word
    register_secret("p@ss!")  # short
    register_secret("hunter22-Zq9")  # strong: masked even inside a longer token
    assert redact("postgresql://u:datakit@db/x") == "postgresql://u:***@db/x"
    assert redact("table _datakit_stage and datakitx") == "table _datakit_stage and datakitx"
    assert redact("pw=p@ss!abc") == "pw=***abc"
    assert redact("table _hunter22-Zq9_stage and hunter22-Zq9x") == "table _***_stage and ***x"
    # the encoded forms of a weak value follow the same rule
    assert redact("basic ZGF0YWtpdA== and xZGF0YWtpdA") == "basic *** and xZGF0YWtpdA"


def test_check_secrets_warns_about_weak_values_without_showing_them(tmp_path: Path) -> None:
    root = tmp_path / "weak"
    write(root, "datakit.yaml", "name: weak\n")
    write(
        root,
        "config/secrets_mapping.yaml",
        """
        secrets:
          short_one: {env_var: SHORT_PW}
          common_one: {env_var: COMMON_PW}
          named_one: {env_var: NAMED_PW}
          strong_one: {env_var: STRONG_PW}
        """,
    )
    write(
        root,
        "config/sources/orders_db.yaml",
        "source:\n  name: orders_db\n  type: sqlite\n"
        "  connection: {database: shop.sqlite}\n  resources: [{name: orders}]\n",
    )
    env = {
        "SHORT_PW": "Xy7-q",
        "COMMON_PW": "Warehouse",
        "NAMED_PW": "orders_db",
        "STRONG_PW": "k9-Vt2+qLw8#Zr4",
    }
    checked = _cli(["validate", "--check-secrets", "--json"], env, root)
    plain = _cli(["validate", "--json"], env, root)
    assert checked.returncode == 0 and plain.returncode == 0, checked.stdout + checked.stderr
    warnings = {p["field"]: p for p in json.loads(checked.stdout)["problems"]}
    assert sorted(warnings) == ["common_one", "named_one", "short_one"]
    assert {p["severity"] for p in warnings.values()} == {"warning"}
    assert (
        "secret 'short_one' (SHORT_PW) is weak: it is shorter than 8 characters"
        in warnings["short_one"]["message"]
    )
    assert "(COMMON_PW) is weak: it is a common word" in warnings["common_one"]["message"]
    assert "(NAMED_PW) is weak: it is a name this project uses" in warnings["named_one"]["message"]
    assert all(p["file"] == "config/secrets_mapping.yaml" and p["line"] for p in warnings.values())
    for value in env.values():
        assert value not in checked.stdout + checked.stderr
    assert json.loads(plain.stdout)["problems"] == []


def test_loading_a_project_masks_the_basic_auth_form_of_each_configured_user(tmp_path: Path) -> None:
    """The orchestrating process never builds the REST client, yet must mask what its steps may echo."""
    import base64

    from datakit.config import load_project
    from datakit.config.secrets import credential_users

    root = tmp_path / "basic"
    write(root, "datakit.yaml", "name: basic\n")
    write(root, "config/secrets_mapping.yaml", "secrets:\n  api_password: {env_var: API_PASSWORD}\n")
    write(
        root,
        "config/sources/api.yaml",
        """
        source:
          name: api
          type: rest_api
          connection:
            base_url: https://api.example.com
            auth: {type: basic, username: ann, password_secret_key: api_password}
          resources: [{name: users, endpoint: /users}]
        """,
    )
    password = "s3cr3t+/=pass-4242"
    project = load_project(root, environ={"API_PASSWORD": password})
    assert credential_users(project) == {"api_password": {"ann"}}
    header = base64.b64encode(f"ann:{password}".encode()).decode()
    assert redact(f"Authorization: Basic {header}") == "Authorization: Basic ***"

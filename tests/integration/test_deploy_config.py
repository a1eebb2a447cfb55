"""The deployment files are valid for the tools that will read them.

- docker-compose.yml parses and validates with `docker-compose config` (Debian's docker-compose
  package; no engine needed) using the placeholders of .env.example, and refuses to start without
  a secret;
- the Prometheus config and alert rules pass `promtool check config / check rules`, the alert rules
  pass their unit tests (`promtool test rules`), and the hub's /metrics output passes
  `promtool check metrics`;
- the Dockerfile pins its base and runs as a non-root user;
- the ClickHouse users file parses in ClickHouse (grants and setting names, checked with the
  embedded engine) and keeps the analyst read-only.

A missing tool skips its tests on a developer machine and fails them in CI (CI=true).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.metrics import MetricWrapperBase

from sinks.clickhouse.client import Warehouse
from sinks.prometheus import metrics

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
DOCKERFILE = REPO / "deploy" / "Dockerfile"
PROMETHEUS = REPO / "deploy" / "prometheus"
CLICKHOUSE_USERS = REPO / "deploy" / "clickhouse" / "users.d" / "demandhub-users.xml"
CLICKHOUSE_CONFIG = REPO / "deploy" / "clickhouse" / "config.d" / "demandhub.xml"

APT_PACKAGES = {"docker-compose": "docker-compose", "promtool": "prometheus"}
LONG_RUNNING = ("kafka", "clickhouse", "worker", "web", "prometheus", "grafana")
HUB_SERVICES = ("topics", "migrate", "worker", "web", "simulator", "board")

# One example value per metric label; a new label must be added here (and kept low-cardinality).
EXAMPLE_LABELS = {
    "topic": "demandhub.contacts.call.v1",
    "reason": "schema",
    "table": "events",
    "dlq_topic": "demandhub.contacts.dlq",
    "channel": "999",
    "queue": "999",
    "grade": "IMMEDIATE",
    "urban_rural": "urban",
    "source": "telephony",
    "platform": "facebook",
    "stage": "first_cycle",
    "kind": "glibc_system",
}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def require_tool(name: str) -> str:
    """Path of ``name``; skips the test when missing, except in CI where that is a failure."""
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} not found (Debian package {APT_PACKAGES[name]!r})"
    if in_ci():
        pytest.fail(f"{message}: CI must install it")
    pytest.skip(f"{message}: install it to run this check")


def run(
    args: list[str], stdin: bytes | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a tool from the repository root and capture its output as text."""
    return subprocess.run(
        args,
        cwd=REPO,
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def clean_env() -> dict[str, str]:
    """An environment without the shell's variables, so only the given env file interpolates."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp")}


def compose_config(env_file: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    tool = require_tool("docker-compose")
    args = [tool, "-f", str(COMPOSE), "--env-file", str(env_file)]
    args += ["--profile", "demo", "--profile", "board", "config", *extra]
    return run(args, env=clean_env())


def compose_file() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


# --- docker-compose ------------------------------------------------------------------------------
def test_compose_file_validates_with_the_example_env() -> None:
    result = compose_config(ENV_EXAMPLE, "-q")
    assert result.returncode == 0, result.stderr


def test_compose_refuses_to_run_without_secrets(tmp_path: Path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = compose_config(empty, "-q")
    assert result.returncode != 0
    assert "in .env" in result.stderr


def test_compose_resolves_the_hub_environment() -> None:
    result = compose_config(ENV_EXAMPLE)
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    for name in HUB_SERVICES:
        env = services[name]["environment"]
        assert env["DEMANDHUB_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert env["DEMANDHUB_CLICKHOUSE_DSN"].startswith("http://writer:")
        assert env["DEMANDHUB_CLICKHOUSE_DSN"].endswith("@clickhouse:8123/default")
        assert env["DEMANDHUB_WEB_HOST"] == "0.0.0.0"
    assert services["migrate"]["command"] == ["migrate"]
    assert services["worker"]["command"] == ["worker"]
    assert services["web"]["command"] == ["web"]


def test_compose_workers_can_scale_and_wait_for_migrations() -> None:
    worker = compose_file()["services"]["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker
    assert worker["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert worker["depends_on"]["topics"]["condition"] == "service_completed_successfully"


def test_compose_long_running_services_have_health_checks_and_pinned_images() -> None:
    services = compose_file()["services"]
    for name in LONG_RUNNING:
        assert "healthcheck" in services[name], name
        assert services[name]["healthcheck"]["test"], name
    for name, service in services.items():
        image = service["image"]
        if name in HUB_SERVICES:
            continue
        tag = image.rsplit(":", 1)[-1] if ":" in image else ""
        assert tag and tag != "latest" and re.search(r"\d", tag), f"{name}: {image} is not pinned"


def test_compose_profiles_and_volumes() -> None:
    data = compose_file()
    services = data["services"]
    assert services["simulator"]["profiles"] == ["demo"]
    assert services["simulator"]["command"][:2] == ["simulate", "--live"]
    assert services["board"]["profiles"] == ["board"]
    assert "${BOARD_MONTH:-auto}" in services["board"]["command"]
    assert services["board"]["restart"] == "no"
    assert {"kafka-data", "clickhouse-data", "grafana-data", "prometheus-data", "board-packs"} <= set(
        data["volumes"]
    )


def test_compose_holds_no_secret_values() -> None:
    secret_key = re.compile(r"(PASSWORD|TOKEN|KEY|SECRET)", re.IGNORECASE)
    for name, service in compose_file()["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if secret_key.search(key):
                assert re.fullmatch(r"\$\{[A-Z0-9_]+:\?[^}]*\}", str(value)), f"{name}.{key}"


def test_env_example_names_every_required_variable_with_placeholders() -> None:
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", COMPOSE.read_text()))
    example = dict(
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )
    assert required <= set(example), sorted(required - set(example))
    for name in required:
        if re.search(r"PASSWORD|TOKEN|KEY", name):
            assert example[name].startswith("CHANGE_ME"), f"{name} must be a placeholder"


# --- Dockerfile ----------------------------------------------------------------------------------
def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            word, _, rest = stripped.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_pins_the_python_base_and_runs_as_non_root() -> None:
    steps = dockerfile_instructions()
    bases = [args.split()[0] for word, args in steps if word == "FROM"]
    assert bases, "no FROM"
    for base in bases:
        assert re.fullmatch(r"python:3\.11\.\d+-slim(-[a-z]+)?", base), f"unpinned base {base}"
    users = [args for word, args in steps if word == "USER"]
    assert users, "no USER: the image would run as root"
    final_user = users[-1].split(":")[0]
    assert final_user not in ("root", "0"), final_user
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    assert any(word == "USER" for word, _ in steps[last_from:]), "USER must be set in the final stage"
    assert ("ENTRYPOINT", '["demandhub"]') in steps
    assert any(word == "RUN" and "pip install ." in args for word, args in steps)


def test_image_has_the_libraries_and_font_the_pdf_engine_loads() -> None:
    steps = dockerfile_instructions()
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    installs = " ".join(
        args for word, args in steps[last_from:] if word == "RUN" and "apt-get install" in args
    )
    for package in ("libpango-1.0-0", "libpangoft2-1.0-0", "fonts-dejavu-core"):
        assert package in installs.split(), f"the final stage does not install {package}"


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_image() -> None:
    ignored = set((REPO / ".dockerignore").read_text().split())
    assert {".env", ".venv", ".git"} <= ignored


# --- Prometheus ----------------------------------------------------------------------------------
TOKEN_FILE = "/tmp/demandhub-metrics.token"


def test_promtool_check_config(tmp_path: Path) -> None:
    """Checked as deployed, except that the token file (written at container start) is a temp file."""
    tool = require_tool("promtool")
    config = (PROMETHEUS / "prometheus.yml").read_text()
    assert config.count(f"credentials_file: {TOKEN_FILE}") == 2, "both hub jobs send the bearer token"
    token = tmp_path / "metrics.token"
    token.write_text("not-a-token")
    (tmp_path / "prometheus.yml").write_text(config.replace(TOKEN_FILE, str(token)))
    shutil.copy(PROMETHEUS / "alerts.yml", tmp_path / "alerts.yml")
    result = run([tool, "check", "config", str(tmp_path / "prometheus.yml")])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rule files found" in result.stdout


def test_prometheus_container_writes_the_token_file_it_reads() -> None:
    prometheus = compose_file()["services"]["prometheus"]
    assert TOKEN_FILE in prometheus["command"][0]
    assert "/tmp" in prometheus["tmpfs"]


def test_promtool_check_rules() -> None:
    tool = require_tool("promtool")
    result = run([tool, "check", "rules", str(PROMETHEUS / "alerts.yml")])
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_test_rules() -> None:
    tool = require_tool("promtool")
    result = run([tool, "test", "rules", str(PROMETHEUS / "alerts_test.yml")])
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_cover_the_required_alerts() -> None:
    rules = [r for g in yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"] for r in g["rules"]]
    exprs = " ".join(r["expr"] for r in rules)
    for needed in (
        "demandhub_queue_longest_wait_seconds",
        'demandhub_incidents_breached_unattended{grade="IMMEDIATE"}',
        "demandhub_consumer_lag_messages",
        "demandhub_consumer_stalled",
        "rate(demandhub_events_invalid_total[10m])",
        "increase(demandhub_sink_failures_total[5m])",
        "demandhub_sink_backing_off",
        "demandhub_sink_out_of_space",
        "demandhub_social_threads_over_target",
    ):
        assert needed in exprs, needed


def test_worker_scrape_uses_dns_discovery_of_the_worker_service() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    dns = jobs["demandhub-worker"]["dns_sd_configs"][0]
    assert dns["names"] == ["worker"] and dns["port"] == 8765
    assert jobs["demandhub-web"]["static_configs"][0]["targets"] == ["web:8765"]


def hub_metrics() -> list[MetricWrapperBase]:
    return [v for v in vars(metrics).values() if isinstance(v, MetricWrapperBase)]


def test_metrics_endpoint_output_passes_promtool_check_metrics() -> None:
    tool = require_tool("promtool")
    declared = hub_metrics()
    assert len(declared) >= 20
    for metric in declared:
        names = metric._labelnames
        missing = [n for n in names if n not in EXAMPLE_LABELS]
        assert not missing, f"add an example value for label(s) {missing} of {metric._name}"
        if names:  # creates the child at zero; existing values are left as they are
            metric.labels(**{n: EXAMPLE_LABELS[n] for n in names})
    exposition = generate_latest(metrics.REGISTRY)
    for metric in declared:
        assert metric._name.encode() in exposition, metric._name
    result = run([tool, "check", "metrics"], stdin=exposition)
    assert result.returncode == 0, result.stdout + result.stderr


# --- ClickHouse users ----------------------------------------------------------------------------
def users_xml() -> ET.Element:
    return ET.parse(CLICKHOUSE_USERS).getroot()


def grants_of(user: str) -> list[str]:
    node = users_xml().find(f"users/{user}/grants")
    assert node is not None, f"{user} has no grants"
    return [q.text or "" for q in node.findall("query")]


def test_clickhouse_passwords_come_from_the_environment() -> None:
    for user in ("writer", "analyst"):
        password = users_xml().find(f"users/{user}/password")
        assert password is not None, user
        assert password.get("from_env") == f"CLICKHOUSE_{user.upper()}_PASSWORD"
        assert not (password.text or "").strip(), f"{user}: literal password in the file"


def test_clickhouse_analyst_is_read_only_and_bounded() -> None:
    profile = users_xml().find("profiles/analyst")
    assert profile is not None
    assert profile.findtext("readonly") == "2"
    assert profile.findtext("allow_ddl") == "0"
    assert int(profile.findtext("max_execution_time") or 0) > 0
    assert int(profile.findtext("max_memory_usage") or 0) > 0
    constraints = profile.find("constraints")
    assert constraints is not None
    assert constraints.find("readonly/min") is not None, "analyst could switch readonly off"
    assert constraints.find("max_memory_usage/max") is not None
    assert constraints.find("max_execution_time/max") is not None
    for grant in grants_of("analyst"):
        privileges, _, target = grant.removeprefix("GRANT ").partition(" ON ")
        assert {p.strip() for p in privileges.split(",")} <= {"SELECT", "SHOW TABLES", "SHOW COLUMNS"}
        assert target == "default.*" or target.startswith("system."), grant


def test_clickhouse_users_grant_no_table_function_sources() -> None:
    sources = (
        "FILE",
        "URL",
        "REMOTE",
        "S3",
        "HDFS",
        "MYSQL",
        "POSTGRES",
        "SOURCES",
        "ALL",
        "CREATE TEMPORARY",
    )
    for user in ("writer", "analyst"):
        for grant in grants_of(user):
            privileges = grant.upper().removeprefix("GRANT ").partition(" ON ")[0]
            assert not any(re.search(rf"\b{s}\b", privileges) for s in sources), grant
            assert " ON default.*" in grant or " ON system." in grant, grant


def test_clickhouse_system_tables_need_grants() -> None:
    config = ET.parse(CLICKHOUSE_CONFIG).getroot()
    assert config.findtext("access_control_improvements/select_from_system_db_requires_grant") == "true"


def test_clickhouse_grants_parse(wh: Warehouse) -> None:
    for user in ("writer", "analyst"):
        for grant in grants_of(user):
            ast = wh.query(f"EXPLAIN AST {grant} TO {user}").rows
            assert ast, grant


def test_clickhouse_profile_settings_exist(wh: Warehouse) -> None:
    names: set[str] = set()
    for profile in users_xml().findall("profiles/*"):
        names |= {child.tag for child in profile if child.tag != "constraints"}
        names |= {child.tag for child in profile.findall("constraints/*")}
    known = {row[0] for row in wh.query("SELECT name FROM system.settings").rows}
    assert names and names <= known, sorted(names - known)


# --- scaling note --------------------------------------------------------------------------------
def sizing_table() -> list[list[str]]:
    """Rows of the Markdown table whose header names the per-worker throughput (header first)."""
    lines = (REPO / "deploy" / "SCALING.md").read_text().splitlines()
    start = next(
        i for i, line in enumerate(lines) if line.startswith("|") and "Per-worker throughput" in line
    )
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        if not set(line) <= set("|-: "):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_scaling_sizing_table_takes_throughput_from_the_benchmarks() -> None:
    header, *rows = sizing_table()
    column = header.index("Per-worker throughput")
    assert len(rows) >= 3
    for row in rows:
        assert row[column] == "see BENCHMARKS.md", row
    text = (REPO / "deploy" / "SCALING.md").read_text()
    for needed in (
        "ReplicatedReplacingMergeTree",
        "Distributed(",
        "cityHash64(force_id, subject)",
        "ON CLUSTER",
        "TTL",
    ):
        assert needed in text, needed

"""The service specifications: what the harness and `make up` both run."""

import configparser
import shlex
import subprocess
from pathlib import Path

import pytest
from voicebot_stack import paths, specs, supervisord
from voicebot_stack.launch import launch
from voicebot_stack.procs import free_port


def test_a_process_gets_its_spec_settings_and_none_of_the_callers() -> None:
    spec = specs.media_controller(8100, 8200, "s3cret", {"MEDIA_CONTROLLER_VAD_ONSET_FRAMES": "5"})
    env = spec.process_env({"PATH": "/bin", "CALL_API_WORKERS": "9", "MEDIA_CONTROLLER_PORT": "1"})
    assert env["PATH"] == "/bin"
    assert "CALL_API_WORKERS" not in env
    assert env["MEDIA_CONTROLLER_PORT"] == "8100"
    assert env["MEDIA_CONTROLLER_MEDIASOUP_URL"] == "ws://127.0.0.1:8200/"
    assert env["MEDIA_CONTROLLER_VAD_ONSET_FRAMES"] == "5"


def test_call_api_imports_factories_from_the_repository_root() -> None:
    spec = specs.call_api(
        8300, instance="call-api-x", redis_url="redis://127.0.0.1:1/0", workers=2, factory="tests.a:b"
    )
    assert spec.env["PYTHONPATH"] == str(paths.REPO_ROOT)
    assert spec.env["CALL_API_ORCHESTRATOR_FACTORY"] == "tests.a:b"
    assert spec.cwd == paths.CALL_API_DIR and spec.name == "call-api-x"


def test_the_node_service_runs_the_node_it_ships_else_the_machines(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    shipped = tmp_path / "node_modules" / ".bin" / "node"
    monkeypatch.setattr(paths, "LOCAL_NODE", shipped)
    assert specs.mediasoup(8400, "s").command[0] != str(shipped)
    shipped.parent.mkdir(parents=True)
    shipped.write_text("#!/bin/sh\n")
    assert specs.mediasoup(8400, "s").command[0] == str(shipped)


def test_supervisord_program_is_rendered_from_the_spec(tmp_path: Path) -> None:
    spec = specs.call_api(
        8500,
        instance="call-api-1",
        redis_url="redis://127.0.0.1:1/0",
        workers=2,
        extra_env={"CALL_API_GREETING": "100% sure"},
        stop_wait_s=25,
    )
    text = supervisord.programs([specs.redis(8600), spec], tmp_path)
    parser = configparser.ConfigParser(interpolation=configparser.BasicInterpolation())
    parser.read_string(text)
    program = parser["program:call-api-1"]
    assert shlex.split(program["command"]) == list(spec.command)
    assert program["directory"] == str(paths.CALL_API_DIR)
    assert program["stopwaitsecs"] == "25" and program["killasgroup"] == "true"
    assert program["stdout_logfile"] == str(tmp_path / "call-api-1.log")
    environment = dict(pair.split("=", 1) for pair in program["environment"].split('",'))
    assert environment["CALL_API_GREETING"].strip('"') == "100% sure"  # % survives supervisord's expansion
    assert environment["CALL_API_BIND"].strip('"') == "127.0.0.1:8500"
    redis = parser["program:redis"]
    assert shlex.split(redis["command"])[3:15] == [
        "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes",
        "--maxmemory", "256mb", "--maxmemory-policy", "allkeys-lru",
    ]  # fmt: skip


def test_a_quote_in_a_setting_is_refused_not_mangled(tmp_path: Path) -> None:
    spec = specs.media_controller(1, 2, 'a"b')
    with pytest.raises(ValueError, match="MEDIA_CONTROLLER_MEDIASOUP_SECRET"):
        supervisord.program(spec, tmp_path)


def test_launch_waits_for_the_probe_and_logs_under_the_spec_name(tmp_path: Path) -> None:
    port = free_port()
    proc = launch(specs.redis(port).named("redis-probe"), tmp_path, timeout=10)
    try:
        assert specs.redis(port).ready()
        assert (tmp_path / "redis-probe.log").exists()
    finally:
        proc.stop()
    assert not specs.redis(port).ready()


def test_call_api_resolves_the_test_support_package_from_its_working_directory() -> None:
    """gunicorn runs in services/call-api (which has a tests/ folder of its own): a factory path
    `tests.support.<module>:<name>` must still import the repository's tests/support."""
    spec = specs.call_api(8700, instance="call-api-x", redis_url="redis://127.0.0.1:1/0", workers=1)
    found = subprocess.run(
        # `python -c` puts the working directory first on sys.path, as gunicorn does.
        [str(paths.VENV_BIN / "python"), "-c", "import tests.support; print(tests.support.__file__)"],
        cwd=spec.cwd,
        env=spec.process_env(),
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )  # fmt: skip
    assert Path(found.stdout.strip()) == paths.REPO_ROOT / "tests" / "support" / "__init__.py"

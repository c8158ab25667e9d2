"""The generated rule files of the three default stacks (monitoring enabled in a copy of their
declaration) as real promtool reads them: `check rules`, and `test rules` with a firing and a
silent case for every alert."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from components.monitoring import alert_rules, alerts, render_rules

from .cases import cases, promtool_test_files
from .promtool import DEFAULT_STACKS, monitored_spec, promtool


def _write_rules(stack: str, directory: Path, **monitoring: object) -> tuple[Path, list]:
    spec = monitored_spec(stack, **monitoring)
    path = directory / f"{stack}.rules.yml"
    path.write_text(render_rules(alert_rules(stack, spec)), encoding="utf-8")
    return path, cases(alerts(stack, spec), spec)


def _run_tests(rule_file: Path, selected: list, directory: Path) -> tuple[int, str]:
    """Every case through `promtool test rules`: the worst exit code and all the output."""
    codes, output = [], []
    for minutes, document in promtool_test_files(rule_file.name, selected).items():
        test_path = directory / f"{rule_file.stem}.every-{minutes}m.test.yml"
        test_path.write_text(yaml.safe_dump(document, sort_keys=False, width=1_000_000), encoding="utf-8")
        result = promtool("test", "rules", test_path.name, cwd=directory)
        codes.append(result.returncode)
        output.append(result.stdout + result.stderr)
    return max(codes), "\n".join(output)


@pytest.mark.parametrize("stack", DEFAULT_STACKS)
def test_promtool_check_rules_accepts_each_default_stacks_rules(stack: str, tmp_path: Path) -> None:
    rule_file, _ = _write_rules(stack, tmp_path)
    count = len(alerts(stack, monitored_spec(stack)))

    result = promtool("check", "rules", rule_file)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {count} rules found" in result.stdout


@pytest.mark.parametrize("stack", DEFAULT_STACKS)
def test_promtool_test_rules_every_alert_fires_and_stays_silent(stack: str, tmp_path: Path) -> None:
    rule_file, selected = _write_rules(stack, tmp_path)
    spec = monitored_spec(stack)
    assert len(selected) == 2 * len(alerts(stack, spec))
    assert {c.rule.alert for c in selected} >= {"ServiceDown", "PostgresDown", "BackupStale", "RestoreDrillFailed"}
    if spec.target == "railway":  # Railway's edge metrics, enabled by default there
        assert {c.rule.alert for c in selected} >= {"EdgeHighErrorRatio", "EdgeHighLatencyP95", "EdgeMetricsStale"}
        assert "ServiceDown edge-metrics fires" in {c.name for c in selected}

    code, output = _run_tests(rule_file, selected, tmp_path)

    assert code == 0, output
    assert "SUCCESS" in output


def test_promtool_test_rules_with_declared_thresholds_and_durations(tmp_path: Path) -> None:
    """Other thresholds and waits: the cases are built from them, so each must reach its rule."""
    thresholds = {
        "error_ratio": 0.2,
        "p95_latency_seconds": 0.3,
        "connections_ratio": 0.5,
        "volume_full_ratio": 0.6,
        "restarts": 5,
        "restart_window_minutes": 10,
        "for_minutes": {"service_down": 0, "error_ratio": 1, "p95_latency": 3, "restarts": 2, "drill_failed": 4},
    }
    rule_file, selected = _write_rules("prod", tmp_path, thresholds=thresholds)

    code, output = _run_tests(rule_file, selected, tmp_path)

    assert code == 0, output


def test_a_wrong_expectation_fails_promtool(tmp_path: Path) -> None:
    """The harness is not vacuous: expecting the silent case to fire fails with promtool's diff."""
    rule_file, selected = _write_rules("staging", tmp_path)
    fire, silent = (
        next(c for c in selected if c.name == "PostgresDown database fires"),
        next(c for c in selected if c.name == "PostgresDown database silent"),
    )
    swapped = type(silent)(silent.name, silent.rule, silent.series, silent.eval_minutes, fire.exp_series_labels)

    code, output = _run_tests(rule_file, [swapped], tmp_path)

    assert code == 1
    assert "PostgresDown" in output and "exp:" in output

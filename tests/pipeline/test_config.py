"""Config: defaults, the generated pipeline.yaml, overrides and error messages."""

import pytest
import yaml

from pipeline.config import PipelineConfig, build_config, load_config, parse_override
from pipeline.config_template import default_config_yaml
from pipeline.errors import ConfigError


def test_generated_yaml_is_commented_and_round_trips_to_the_defaults(tmp_path):
    text = default_config_yaml()
    assert text.count("\n#") + text.count("  #") > 20  # descriptions became comments
    path = tmp_path / "pipeline.yaml"
    path.write_text(text)
    assert load_config(path) == PipelineConfig()


def test_set_overrides_nested_values_with_yaml_types():
    cfg = build_config(
        {},
        [
            "run.budget=30m",
            "governance.data.limit=12",
            "training.sample_prompts=[a, b]",
            "governance.nsfw.enabled=false",
        ],
    )
    assert cfg.run.budget == "30m"
    assert cfg.governance.data.limit == 12
    assert cfg.training.sample_prompts == ["a", "b"]
    assert cfg.governance.nsfw.enabled is False


def test_unknown_key_names_the_section_and_the_allowed_keys():
    with pytest.raises(ConfigError) as exc:
        build_config({"run": {"budgett": "1h"}})
    msg = str(exc.value)
    assert "run.budgett" in msg and "unknown key" in msg and "budget" in msg.split("allowed keys:")[1]


def test_invalid_value_names_field_value_and_what_is_allowed():
    with pytest.raises(ConfigError) as exc:
        build_config({}, ["governance.data.source=s3"])
    msg = str(exc.value)
    assert "governance.data.source" in msg and "'s3'" in msg and "imagefolder" in msg


def test_files_the_config_names_must_exist(tmp_path):
    for key in ("governance.provenance.c2pa_trust_anchors", "governance.provenance.opt_out.file"):
        with pytest.raises(ConfigError) as exc:
            build_config({}, [f"{key}={tmp_path / 'missing.pem'}"])
        assert key in str(exc.value) and "does not exist" in str(exc.value)
    present = tmp_path / "anchors.pem"
    present.write_text("-----BEGIN CERTIFICATE-----")
    cfg = build_config({}, [f"governance.provenance.c2pa_trust_anchors={present}"])
    assert cfg.governance.provenance.c2pa_trust_anchors == present


def test_bad_budget_says_how_to_write_one():
    with pytest.raises(ConfigError, match="24h, 90m"):
        build_config({"run": {"budget": "soon"}})


def test_wrong_type_is_reported():
    with pytest.raises(ConfigError, match=r"training\.batch_size"):
        build_config({"training": {"batch_size": "many"}})


def test_missing_file_and_non_mapping_yaml(tmp_path):
    with pytest.raises(ConfigError, match="pipeline init"):
        load_config(tmp_path / "absent.yaml")
    bad = tmp_path / "list.yaml"
    bad.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(bad)


def test_yaml_is_read_safely(tmp_path):
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text("run: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(hostile)


def test_override_needs_key_and_value():
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_override("run.budget")
    assert parse_override("run.seed=3") == ("run.seed", 3)


def test_resolved_config_is_plain_yaml():
    text = yaml.safe_dump(PipelineConfig().model_dump(mode="json"))
    assert "budget: 15m" in text


# Every duration and size field, with a value a person could plausibly write by mistake.
DURATION_FIELDS = ("run.budget", "audits.reserve", "training.checkpoint_every")
SIZE_FIELDS = ("governance.data.max_file_bytes",)


@pytest.mark.parametrize("key", DURATION_FIELDS)
@pytest.mark.parametrize("value", ["soon", "5x", "m5", "0", "-2m", "1h-5m", "yes"])
def test_every_duration_field_rejects_a_bad_value_naming_field_value_and_forms(key, value):
    with pytest.raises(ConfigError) as exc:
        build_config({}, [f"{key}={value}"])
    msg = str(exc.value)
    assert key in msg and "24h, 90m, 1h30m" in msg
    # the value as the user wrote it (YAML reads `yes` as a boolean, shown as True)
    assert repr(value) in msg or (value == "yes" and "True" in msg) or value in msg


@pytest.mark.parametrize("key", DURATION_FIELDS)
@pytest.mark.parametrize(("value", "seconds"), [("90", 90.0), ("1h30m", 5400.0), ("2d", 172800.0)])
def test_every_duration_field_accepts_the_documented_forms(key, value, seconds):
    from training.durations import parse_duration

    cfg = build_config({}, [f"{key}={value}"])
    section, name = key.rsplit(".", 1)
    node = cfg
    for part in section.split("."):
        node = getattr(node, part)
    assert parse_duration(getattr(node, name)) == seconds


@pytest.mark.parametrize("key", SIZE_FIELDS)
def test_every_size_field_reads_units_and_rejects_garbage(key):
    assert build_config({}, [f"{key}=48MiB"]).governance.data.max_file_bytes == 48 * 1024 * 1024
    assert build_config({}, [f"{key}=50MB"]).governance.data.max_file_bytes == 50_000_000
    assert build_config({}, [f"{key}=1234"]).governance.data.max_file_bytes == 1234
    for bad in ("lots", "0", "-5MB", "true"):
        with pytest.raises(ConfigError) as exc:
            build_config({}, [f"{key}={bad}"])
        assert key in str(exc.value) and "50MB, 48MiB" in str(exc.value)


def test_durations_and_sizes_are_checked_in_a_config_file_too(tmp_path):
    path = tmp_path / "pipeline.yaml"
    path.write_text("training:\n  checkpoint_every: every so often\naudits:\n  reserve: 4 minutes\n")
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert "training.checkpoint_every = 'every so often'" in str(exc.value)
    assert "audits.reserve = '4 minutes'" in str(exc.value)


def _cli(cwd, *args):
    from tests.pipeline.real_cli import cli

    return cli(cwd, *args, timeout=120)


@pytest.mark.parametrize(
    ("setting", "field"),
    [
        ("training.checkpoint_every=soon", "training.checkpoint_every = 'soon'"),
        ("audits.reserve=a while", "audits.reserve = 'a while'"),
    ],
)
def test_the_cli_exits_2_at_load_naming_the_field(tmp_path, setting, field):
    proc = _cli(tmp_path, "run", "--set", setting)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert field in proc.stderr and "24h, 90m" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "runs").exists() and not (tmp_path / "mlflow.db").exists()  # nothing recorded

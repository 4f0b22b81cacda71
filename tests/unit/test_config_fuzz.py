"""The config loader fed broken files: only the project's own errors, with clear messages.

Random bytes, random mutations of a valid file and random values at every known key must
give either a valid Config (which writes back to TOML and reads back equal) or an
``InputError`` / ``ConfigError`` naming what was wrong; never another exception.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import tomllib
from pathlib import Path

from hypothesis import example, given
from hypothesis import strategies as st

from breathform import config as config_mod
from breathform.errors import ConfigError, InputError

DEFAULT_TOML = config_mod.to_toml(config_mod.Config())


def _leaf_keys(obj: object, prefix: str = "") -> list[str]:
    out: list[str] = []
    for f in dataclasses.fields(obj):  # type: ignore[arg-type]
        v = getattr(obj, f.name)
        if dataclasses.is_dataclass(v):
            out += _leaf_keys(v, f"{prefix}{f.name}.")
        else:
            out.append(f"{prefix}{f.name}")
    return out


KEYS = _leaf_keys(config_mod.Config())

toml_scalars = st.one_of(
    st.booleans(), st.integers(min_value=-2**63, max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=80),
    st.datetimes(), st.dates(), st.times())
toml_values = st.recursive(toml_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=8)


def _toml_value(v: object) -> str:
    """A TOML literal for a value of toml_values."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) \
            else repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return config_mod._toml_string(v)
    if isinstance(v, dt.datetime | dt.date | dt.time):
        return v.isoformat()
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    assert isinstance(v, dict)
    return "{" + ", ".join(f"{config_mod._toml_string(k)} = {_toml_value(x)}"
                           for k, x in v.items()) + "}"


def _load_checked(path: Path) -> None:
    try:
        cfg = config_mod.load(path)
    except InputError as exc:
        msg = str(exc)
        assert msg and "\n" not in msg, msg
        if isinstance(exc, ConfigError):
            assert exc.key in msg and exc.expected in msg
        return
    # whatever loads writes back to TOML that reads back to the same config
    again = config_mod.from_dict(tomllib.loads(config_mod.to_toml(cfg)))
    assert _same(again, cfg)


def _same(a: config_mod.Config, b: config_mod.Config) -> bool:
    fa, fb = config_mod.to_dict(a), config_mod.to_dict(b)

    def eq(x: object, y: object) -> bool:
        if isinstance(x, dict) and isinstance(y, dict):
            return x.keys() == y.keys() and all(eq(x[k], y[k]) for k in x)
        if isinstance(x, float) and isinstance(y, float) and math.isnan(x):
            return math.isnan(y)
        return x == y

    return eq(fa, fb)


@given(st.binary(max_size=400))
@example(b"\xff\xfe[runner]\n")
@example(b"[runner]\nid = \"a\x00b\"\n")
def test_random_bytes_give_only_input_errors(tmp_path_factory, data):
    p = tmp_path_factory.mktemp("cfg") / "c.toml"
    p.write_bytes(data)
    _load_checked(p)


@given(st.data())
def test_mutated_default_file_gives_only_input_errors(tmp_path_factory, data):
    text = DEFAULT_TOML
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(text)))
        j = data.draw(st.integers(i, min(len(text), i + 20)))
        ins = data.draw(st.one_of(st.text(max_size=12),
                                  st.sampled_from(["nan", "inf", "-1", "1e999", "\"", "[",
                                                   "]]", "=", "\n[x]\n", "{}", "true",
                                                   "'''", "0x1F"])))
        text = text[:i] + ins + text[j:]
    p = tmp_path_factory.mktemp("cfg") / "c.toml"
    p.write_text(text, encoding="utf-8")
    _load_checked(p)


@given(st.sampled_from(KEYS), toml_values)
@example("sinks.mqtt.alert_buffer", math.nan)
@example("sinks.influx.batch_size", math.inf)
@example("runner.id", "a\nb")
@example("runner.id", "x/y")
@example("sensors.chest.rate_hz", 10**30)
def test_any_value_at_any_key_is_valid_or_a_config_error(tmp_path_factory, key, value):
    table, _, name = key.rpartition(".")
    p = tmp_path_factory.mktemp("cfg") / "c.toml"
    p.write_text(f"[{table}]\n{name} = {_toml_value(value)}\n", encoding="utf-8")
    try:
        cfg = config_mod.load(p)
    except ConfigError as exc:
        assert exc.key == key, (exc.key, key)
        return
    except InputError as exc:  # only when the literal is not TOML (e.g. -inf keys)
        assert "not valid TOML" in str(exc)
        return
    again = config_mod.from_dict(tomllib.loads(config_mod.to_toml(cfg)))
    assert _same(again, cfg)


def test_the_fixed_bugs_give_clear_messages(tmp_path):
    p = tmp_path / "c.toml"
    p.write_bytes(b"\xff\xfe[runner]\n")
    try:
        config_mod.load(p)
    except InputError as exc:
        assert "not UTF-8" in str(exc) and "byte 0" in str(exc)
    else:
        raise AssertionError("bytes that are not UTF-8 loaded")
    p.write_text("[sinks.mqtt]\nalert_buffer = nan\n")
    try:
        config_mod.load(p)
    except ConfigError as exc:
        assert exc.key == "sinks.mqtt.alert_buffer" and "whole number" in str(exc)
    else:
        raise AssertionError("alert_buffer = nan loaded")
    # a string with a control character is refused where it matters, and survives
    # to_toml where it is allowed
    cfg = dataclasses.replace(config_mod.Config(), store=config_mod.StoreConfig(
        dir="a\nb\x7f\"\\"))
    assert _same(config_mod.from_dict(tomllib.loads(config_mod.to_toml(cfg))), cfg)

from __future__ import annotations

import pytest

from breathform.errors import InputError
from breathform.sim import SimParams


def test_defaults_and_variants() -> None:
    assert SimParams.hilly() == SimParams()
    assert SimParams().duration_s == 1800
    assert 2 <= SimParams().n_climbs <= 4
    assert SimParams.flat().n_climbs == 0
    for n in (2, 3, 4):  # 2-4 climbs fit the default 30 min
        assert SimParams(n_climbs=n).longest_climb_s >= SimParams().climb_min_s
    assert SimParams.flat(seed=4, duration_s=600).seed == 4
    assert SimParams(duration_s=1800.0).duration_s == 1800  # type: ignore[arg-type]
    assert isinstance(SimParams(duration_s=1800.0).duration_s, int)  # type: ignore[arg-type]


@pytest.mark.parametrize(("kw", "name"), [
    ({"seed": -1}, "seed"),
    ({"duration_s": 30}, "duration_s"),
    ({"duration_s": 100.5}, "duration_s"),
    ({"n_climbs": -1}, "n_climbs"),
    ({"climb_grade_min_pct": 9.0, "climb_grade_max_pct": 5.0}, "climb_grade_min_pct"),
    ({"climb_min_s": 5.0}, "climb_min_s"),
    ({"base_speed_mps": 0.5}, "base_speed_mps"),
    ({"chest_fs_hz": 0.0}, "chest_fs_hz"),
    ({"sacrum_fs_hz": float("nan")}, "sacrum_fs_hz"),
    ({"mount": "glued"}, "mount"),
    ({"acc_noise_g": -0.1}, "acc_noise_g"),
    ({"effort_tau_s": 0.0}, "effort_tau_s"),
    ({"duration_s": 600, "n_climbs": 4}, "n_climbs"),
    ({"duration_s": 1800, "n_climbs": 10}, "n_climbs"),
])
def test_bad_params_name_the_parameter(kw: dict[str, object], name: str) -> None:
    with pytest.raises(InputError, match=name):
        SimParams(**kw)  # type: ignore[arg-type]


def test_frozen() -> None:
    p = SimParams()
    with pytest.raises(AttributeError):
        p.seed = 3  # type: ignore[misc]


def test_bench_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    from breathform.sim.bench import main

    assert main(["120"]) == 0
    assert "duration_s=120" in capsys.readouterr().out

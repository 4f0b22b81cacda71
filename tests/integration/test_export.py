"""`breathform export` end to end: every format from the command line, BIDS validated by the
real ``bids-validator`` (npm, installed into .npm-tools/ by scripts/npm-tools.sh)."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from breathform.cli import main
from breathform.export.streams import load_session
from breathform.store import SessionReader

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BIDS_VALIDATOR = ROOT / ".npm-tools" / "node_modules" / ".bin" / "bids-validator"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bfhome")


@pytest.fixture(scope="module")
def session(home: Path) -> Path:
    folder = home / "sessions"
    assert main(["--dir", str(folder), "demo", "--minutes", "3", "--quiet"]) == 0
    (path,) = folder.glob("*.bfsession")
    return path


@pytest.fixture(autouse=True)
def _home(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BREATHFORM_HOME", str(home))


def _tsv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def _export(session: Path, fmt: str, out: Path, *extra: str) -> int:
    sid = session.name.split(".")[0]
    return main(["--dir", str(session.parent), "export", sid[:20], "--format", fmt,
                 "--out", str(out), "--quiet", *extra])


@pytest.mark.parametrize("fmt", ["csv", "parquet", "edf", "bids"])
def test_every_format_from_the_command_line(session: Path, tmp_path: Path, fmt: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert _export(session, fmt, tmp_path / fmt) == 0
    out = capsys.readouterr().out
    assert f"as {fmt}" in out and "pseudonymous" in out
    assert any((tmp_path / fmt).rglob("*"))


def test_bids_export_validates_with_zero_errors(session: Path, tmp_path: Path,
                                                home: Path) -> None:
    if not BIDS_VALIDATOR.exists():
        raise RuntimeError("bids-validator missing: run scripts/npm-tools.sh (scripts/test "
                           "does)")
    out = tmp_path / "bids"
    assert _export(session, "bids", out) == 0
    proc = subprocess.run([str(BIDS_VALIDATOR), str(out), "--json"], capture_output=True,
                          text=True, timeout=300, check=False)
    report = json.loads(proc.stdout)
    errors = report["issues"]["errors"]
    assert errors == [], json.dumps(errors, indent=1)[:3000]
    assert report["summary"]["totalFiles"] >= 10
    assert "run" in report["summary"]["tasks"]

    # the structure the spec asks for, checked directly
    (ses_dir,) = out.glob("sub-*/ses-*")
    with SessionReader(session) as r:
        data = load_session(r)
    scans = _tsv(next(ses_dir.glob("*_scans.tsv")))
    assert {Path(s["filename"]).name.split("_tracksys-")[1] for s in scans} == {
        "chest_motion.tsv", "sacrum_motion.tsv"}
    for role, s in data.streams.items():
        (motion,) = ses_dir.glob(f"motion/*_tracksys-{role}_motion.tsv")
        side = json.loads(motion.with_name(motion.name.replace(".tsv", ".json")).read_text())
        assert side["TaskName"] == "run" and side["SamplingFrequency"] == s.info.fs_hz
        # the effective rate on the session clock is the nominal one within the clock drift
        assert side["SamplingFrequencyEffective"] == pytest.approx(s.info.fs_hz, rel=1e-3)
        for key in ("Manufacturer", "ManufacturersModelName", "SoftwareVersions",
                    "MotionChannelCount", "ACCELChannelCount", "GYROChannelCount",
                    "SamplingFrequencyEffective", "MissingValues", "TrackedPointsCount"):
            assert key in side, key
        channels = _tsv(motion.with_name(motion.name.replace("_motion.tsv", "_channels.tsv")))
        assert side["MotionChannelCount"] == len(channels)
        assert [c["type"] for c in channels][:5] == ["LATENCY", "MISC", "ACCEL", "ACCEL",
                                                     "ACCEL"]
        # headerless: the first line is the first sample
        rows = [line.split("\t") for line in motion.read_text().splitlines()]
        assert len(rows) == s.seq[-1] - s.seq[0] + 1
        assert {len(r) for r in rows} == {len(channels)}
        assert float(rows[0][0]) == 0.0
        n_missing = sum(r[2] == "n/a" for r in rows)
        assert n_missing == s.n_samples_lost
        present = np.array([[float(x) for x in r[2:5]] for r in rows if r[2] != "n/a"])
        np.testing.assert_allclose(present, s.acc_g * 9.80665, rtol=1e-7)
        acq = next(x["acq_time"] for x in scans if f"tracksys-{role}" in x["filename"])
        assert acq.startswith("20") and "T" in acq


def test_identify_keeps_the_runner_id(session: Path, tmp_path: Path) -> None:
    assert _export(session, "csv", tmp_path / "id", "--identify") == 0
    md = json.loads((tmp_path / "id" / "metadata.json").read_text())
    assert md["subject"]["id"] == "runner-01"
    assert md["privacy"]["pseudonymised"] is False
    assert _export(session, "csv", tmp_path / "ps") == 0
    md = json.loads((tmp_path / "ps" / "metadata.json").read_text())
    assert md["subject"]["id"] != "runner-01" and len(md["subject"]["id"]) == 16


def test_bad_input_gets_a_clear_error(session: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["--dir", str(session.parent), "export", "no-such-session", "--format", "csv",
               "--out", str(tmp_path / "x"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and "no session 'no-such-session'" in err and "Traceback" not in err
    (tmp_path / "file").write_text("")
    assert _export(session, "csv", tmp_path / "file") == 2
    assert "--out must be a folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["export", str(session), "--format", "xlsx", "--out", str(tmp_path)])
    assert e.value.code == 2
    assert "invalid choice: 'xlsx'" in capsys.readouterr().err


def test_progress_bar_on_a_terminal(session: Path, tmp_path: Path) -> None:
    import argparse
    import io

    from rich.console import Console

    from breathform.cli_export import cmd_export
    from breathform.config import Config

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=100)
    args = argparse.Namespace(session=str(session), fmt="csv", out=str(tmp_path / "p"),
                              identify=False, quiet=False, dir=None)
    assert cmd_export(args, Config(), console) == 0
    text = buf.getvalue()
    assert "decoding packets" in text and "writing samples" in text
    assert "exported" in text
    buf2 = io.StringIO()
    args.quiet, args.out = True, str(tmp_path / "q")
    assert cmd_export(args, Config(), Console(file=buf2, force_terminal=True)) == 0
    assert "decoding packets" not in buf2.getvalue()

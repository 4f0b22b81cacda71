"""`breathform report` on demo sessions, rendered in headless Chromium (Debian package)."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest

from breathform.cli import main
from breathform.dashboard.report import PLOTS, load
from breathform.store import list_sessions

pytestmark = pytest.mark.integration

SECTIONS = {"summary": "At a glance", "plots": "Over the run", "alerts": "Alerts",
            "climbs": "Climbs: before, during, after", "gait": "Gait, stride by stride",
            "calibration": "Calibration used"}
N_GAIT_PLOTS = 4    # cadence, stride-time variability, step asymmetry, vertical oscillation


def _demo(folder: Path, minutes: str, seed: str = "1") -> Path:
    assert main(["--dir", str(folder), "demo", "--minutes", minutes, "--seed", seed,
                 "--quiet"]) == 0
    (s,) = list_sessions(folder)
    return s.path


@pytest.fixture(scope="module")
def hilly(tmp_path_factory):
    """A demo run long enough to climb and alert (seed 1, 8 min)."""
    folder = tmp_path_factory.mktemp("report")
    path = _demo(folder, "8")
    out = folder / "report.html"
    assert main(["report", str(path), "-o", str(out)]) == 0
    return path, out


def _chromium() -> str:
    exe = shutil.which("chromium")
    if exe is None:
        raise RuntimeError("chromium missing: scripts/test installs the Debian package "
                           "`chromium` (scripts/debian-packages.txt)")
    return exe


def _chromium_run(args: list[str], tmp: Path) -> subprocess.CompletedProcess[bytes]:
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--no-first-run", "--hide-scrollbars",
           f"--user-data-dir={tmp / 'profile'}", *args]
    return subprocess.run(cmd, capture_output=True, timeout=120, check=True)


def _png_rgb(data: bytes) -> np.ndarray:
    """Decode an 8-bit, non-interlaced RGB/RGBA PNG (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _c, _f, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    out = np.zeros((h, stride), dtype=np.int32)
    prev = np.zeros(stride, dtype=np.int32)
    for y in range(h):
        ft = raw[y * (stride + 1)]
        line = np.frombuffer(raw, np.uint8, stride, y * (stride + 1) + 1).astype(np.int32)
        cur = np.zeros(stride, dtype=np.int32)
        if ft == 0:
            cur = line
        elif ft == 2:
            cur = (line + prev) & 255
        else:
            for x in range(stride):
                a = cur[x - bpp] if x >= bpp else 0
                b = prev[x]
                c = prev[x - bpp] if x >= bpp else 0
                if ft == 1:
                    p = a
                elif ft == 3:
                    p = (a + b) // 2
                else:
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[x] = (line[x] + p) & 255
        out[y] = cur
        prev = cur
    return out.reshape(h, w, bpp)[:, :, :3]


def test_report_is_self_contained_and_has_every_section(hilly):
    path, out = hilly
    text = out.read_text()
    assert "<script" not in text
    # nothing loaded from elsewhere: no src/href, no url(); only the SVG namespace
    assert not re.search(r"""\b(src|href)\s*=|url\(""", text)
    assert set(re.findall(r"https?://[^\s\"']+", text)) <= {"http://www.w3.org/2000/svg"}
    for sid, title in SECTIONS.items():
        assert f'<section id="{sid}"><h2>{title}</h2>' in text
    n_plots = len(PLOTS)
    assert n_plots == 9     # breathing x2, tilt, lean, drop, rotation, twist, cadence, hr
    assert text.count("<svg") == n_plots + N_GAIT_PLOTS
    assert "Pelvic drop, range per stride" in text and "Trunk twist, range per stride" in text
    d = load(path)
    assert d.alerts and d.climbs, "seed 1, 8 min: a climb with an alert"
    assert text.count('class="alert"') == (n_plots + N_GAIT_PLOTS) * len(d.alerts)
    assert text.count('class="climb"') == (n_plots + N_GAIT_PLOTS) * len(d.climbs)
    # per-climb breakdown: before / during / after for each climb (metrics, then gait)
    assert text.count("<td>before</td>") == 2 * len(d.climbs)
    assert text.count("<td>during</td>") == 2 * len(d.climbs)
    # every alert's cue is in the alert table
    for a in d.alerts:
        assert a.cue in text


def test_climbs_line_up_with_the_alerts_that_say_climb(hilly):
    d = load(hilly[0])
    for a in d.alerts:
        if a.climb:
            assert any(c.start_s <= a.t_s <= c.end_s for c in d.climbs)


def test_chromium_renders_the_report_with_plots(hilly, tmp_path):
    _path, out = hilly
    dom = _chromium_run(["--dump-dom", out.as_uri()], tmp_path).stdout.decode()
    for sid, title in SECTIONS.items():
        assert f'id="{sid}"' in dom and title in dom
    shot = tmp_path / "shot.png"
    _chromium_run(["--window-size=1000,2600", f"--screenshot={shot}", out.as_uri()], tmp_path)
    img = _png_rgb(shot.read_bytes())
    assert img.shape[:2] == (2600, 1000)
    white = (img > 245).all(axis=2)
    assert 0.02 < 1 - white.mean() < 0.6, "a blank (or black) screenshot"
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    alert_red = (r > 180) & (g < 60) & (b < 80)            # alert markers (#d0021b)
    climb_tint = (r > 240) & (g > 215) & (g < 245) & (b > 170) & (b < 225)   # shading
    assert alert_red.sum() > 50 and climb_tint.sum() > 5000


def test_six_minute_demo_report_has_every_section(tmp_path):
    path = _demo(tmp_path, "6")
    assert main(["report", str(path)]) == 0
    text = path.with_suffix(".html").read_text()
    for sid in SECTIONS:
        assert f'<section id="{sid}">' in text
    d = load(path)
    if not d.climbs:
        assert "No climb detected in this session." in text
    if not d.alerts:
        assert "No alert fired in this session." in text


def test_report_of_a_missing_session_is_a_clear_error(tmp_path, capsys):
    assert main(["--dir", str(tmp_path), "report", "nope"]) == 2
    assert "no session 'nope'" in capsys.readouterr().err


def test_headline_states_the_climb_changes_in_plain_words(hilly):
    from breathform.dashboard.report import headline

    d = load(hilly[0])
    h = headline(d)
    assert h.startswith(f"{len(d.climbs)} climb")
    assert f"{len(d.alerts)} alert" in h and "breathing went from" in h
    assert h in hilly[1].read_text()

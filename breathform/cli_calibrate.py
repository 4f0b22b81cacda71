"""``breathform calibrate``: a guided 10-s stand and 30-s quiet breathing -> runner profile.

The captures come from the same sources as ``run`` (the BLE sensors of the config) or from
the simulator (``--sim``, whose runner stands for the first 40 s). The stand gives each
sensor's vertical (mean specific force) once every second of it was still; if the runner
moved, the command says which sensor moved and how much, and asks again. The quiet
breathing goes through the chest DSP (with that vertical) for the resting rate and the
resting breath amplitude that ``depth_rel`` is relative to. The result is written to the
runner profile (:mod:`breathform.profile`), which ``run``/``demo`` then use.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from rich.console import Console

from breathform import config as config_mod
from breathform import profile as prof
from breathform.errors import BreathformError, InputError
from breathform.model import ImuBlock, RawPacket, SensorInfo
from breathform.processing import AUTO_CALIBRATION_NOTE, SessionProcessor

if TYPE_CHECKING:
    from breathform.firmware_bridge.ble_source import SensorTarget
    from breathform.firmware_bridge.link import BleBackend

STAND_S = 10.0
BREATH_S = 30.0
STILL_STD_G = 0.03
STILL_NORM_TOL_G = 0.05
STILL_GYR_DPS = 10.0


@dataclass
class Recording:
    """Decoded samples of one sensor, in session time."""

    t_s: list[NDArray[np.float64]] = field(default_factory=list)
    acc_g: list[NDArray[np.float64]] = field(default_factory=list)
    gyr_dps: list[NDArray[np.float64]] = field(default_factory=list)

    def add(self, b: ImuBlock) -> None:
        """Append a decoded block."""
        self.t_s.append(b.t_s)
        self.acc_g.append(b.acc_g)
        if b.gyr_dps is not None:
            self.gyr_dps.append(b.gyr_dps)

    @property
    def latest_s(self) -> float:
        """Time of the newest sample (-inf before any)."""
        return float(self.t_s[-1][-1]) if self.t_s and self.t_s[-1].size else -math.inf

    def window(self, t0_s: float, t1_s: float
               ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64] | None]:
        """Samples with t0 < t <= t1."""
        if not self.t_s:
            return np.zeros(0), np.zeros((0, 3)), None
        t = np.concatenate(self.t_s)
        sel = (t > t0_s) & (t <= t1_s)
        a = np.concatenate(self.acc_g)[sel]
        g = np.concatenate(self.gyr_dps)[sel] if self.gyr_dps else None
        return t[sel], a, g


def still_problem(role: str, t_s: NDArray[np.float64], acc_g: NDArray[np.float64],
                  gyr_dps: NDArray[np.float64] | None, fs_hz: float, seconds: float) -> str | None:
    """Why a standing capture of one sensor is not still, or None if it is.

    Every whole second of the capture must have a per-axis acceleration std below
    ``STILL_STD_G``, an acceleration norm within ``STILL_NORM_TOL_G`` of 1 g and (with a
    gyroscope) a mean angular rate below ``STILL_GYR_DPS``; and the capture must be
    complete (at least 90 % of the expected samples).
    """
    n_expected = seconds * fs_hz
    if t_s.shape[0] < 0.9 * n_expected:
        return (f"the {role} sensor sent {t_s.shape[0]} samples, expected about "
                f"{n_expected:.0f} (is it on and in range?)")
    k = np.floor((t_s - t_s[0]) / 1.0).astype(int)
    worst_std = worst_norm = worst_gyr = 0.0
    for sec in np.unique(k):
        sel = k == sec
        if int(sel.sum()) < 2:
            continue
        a = acc_g[sel]
        worst_std = max(worst_std, float(a.std(axis=0).max()))
        worst_norm = max(worst_norm, abs(float(np.linalg.norm(a.mean(axis=0))) - 1.0))
        if gyr_dps is not None:
            worst_gyr = max(worst_gyr, float(np.linalg.norm(gyr_dps[sel], axis=1).mean()))
    if worst_std >= STILL_STD_G:
        return (f"the {role} sensor moved: its acceleration varied by {worst_std:.3f} g "
                f"within a second (still is below {STILL_STD_G} g)")
    if worst_norm >= STILL_NORM_TOL_G:
        return (f"the {role} sensor was not at rest: it felt {1 + worst_norm:.2f} g "
                f"(1 g +- {STILL_NORM_TOL_G} when still)")
    if worst_gyr >= STILL_GYR_DPS:
        return (f"the {role} sensor turned: {worst_gyr:.1f} deg/s on average in a second "
                f"(still is below {STILL_GYR_DPS} deg/s)")
    return None


def vertical_of(acc_g: NDArray[np.float64]) -> tuple[float, float, float]:
    """The segment's up axis in sensor coordinates from a still capture (mean, unit)."""
    m = acc_g.mean(axis=0)
    v = m / np.linalg.norm(m)
    return float(v[0]), float(v[1]), float(v[2])


def resting_breath(t_s: NDArray[np.float64], acc_g: NDArray[np.float64],
                   gyr_dps: NDArray[np.float64] | None, fs_hz: float,
                   vertical: tuple[float, float, float], t_from_s: float
                   ) -> tuple[float, float | None]:
    """Resting breathing rate and amplitude through the chest DSP.

    Args:
        t_s: Chest sample times (the stand and the quiet breathing), (n,).
        acc_g: Chest acceleration, (n, 3).
        gyr_dps: Chest angular rate, (n, 3), or None.
        fs_hz: Sample rate.
        vertical: The chest's vertical from the stand.
        t_from_s: Start of the quiet-breathing capture.

    Returns:
        The rate over the capture (:func:`spectral_rate_bpm`, NaN if unclear) and the
        resting amplitude in g as the live chest DSP calibrates it (None if it found no
        steady breathing).
    """
    from breathform.signal import regrid
    from breathform.signal import sensors as sn
    from breathform.signal.posture import SegmentCalibration

    p = sn.ChestParams(fs_hz, has_gyro=gyr_dps is not None,
                       calibration=SegmentCalibration(vertical))
    _, st = sn.chest_samples_step(p, sn.init_chest(p),
                                  regrid.samples_from_arrays(t_s, acc_g, gyr_dps))
    # the rate: the live tracker needs time to build evidence and may abstain or lock late;
    # a still capture is clean enough for a plain spectral peak over the whole of it
    rate = spectral_rate_bpm(acc_g[t_s > t_from_s], fs_hz)
    amp = float(st.breath.rest_amp_g)
    return rate, (amp if math.isfinite(amp) and amp > 0 else None)


def spectral_rate_bpm(acc_g: NDArray[np.float64], fs_hz: float, low_hz: float = 0.1,
                      high_hz: float = 0.7, min_share: float = 0.5) -> float:
    """Breathing rate of a still capture: spectral peak of the chest's tilt (offline).

    The chest wall's breathing rotation tilts gravity in the sensor frame: the capture's
    acceleration, band-passed (zero-phase: this is an offline summary, not the live
    path) and projected on its principal direction, has its spectral peak at the rate.

    Args:
        acc_g: Chest acceleration of a still capture, (n, 3), at least 20 s.
        fs_hz: Sample rate.
        low_hz: Lowest breathing frequency considered.
        high_hz: Highest breathing frequency considered.
        min_share: Share of the band's power the peak (+-0.05 Hz) must hold.

    Returns:
        Breaths per minute (parabolic interpolation of the peak), NaN if the capture is
        too short or has no clear peak.
    """
    from scipy.signal import butter, sosfiltfilt, welch

    n = acc_g.shape[0]
    if n < 20 * fs_hz:
        return math.nan
    sos = butter(2, (low_hz, high_hz), btype="bandpass", fs=fs_hz, output="sos")
    x = sosfiltfilt(sos, acc_g - acc_g.mean(axis=0), axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    nfft = 1 << int(np.ceil(np.log2(8 * n)))
    f, pw = welch(x @ vt[0], fs_hz, nperseg=n, nfft=nfft, detrend="linear")
    band = np.flatnonzero((f >= low_hz) & (f <= high_hz))
    pb = pw[band]
    # highest interior local maximum (the band edges carry the filter's skirts)
    inner = np.flatnonzero((pb[1:-1] > pb[:-2]) & (pb[1:-1] >= pb[2:])) + 1
    if inner.size == 0:
        return math.nan
    i = int(band[inner[np.argmax(pb[inner])]])
    near = np.abs(f[band] - f[i]) <= 0.05
    if not float(pb[near].sum()) >= min_share * float(pb.sum()):
        return math.nan
    a, b, c = np.log(pw[i - 1: i + 2])
    off = 0.5 * (a - c) / (a - 2 * b + c) if a - 2 * b + c < 0 else 0.0
    return float(60.0 * (f[i] + off * (f[1] - f[0])))


# ----------------------------------------------------------------------------- streams
_Captured = dict[str, tuple[NDArray[np.float64], NDArray[np.float64],
                            NDArray[np.float64] | None]]


class _Stream:
    """Decoded samples of a packet source, pulled as the captures need them."""

    def __init__(self, sensors: Sequence[SensorInfo]) -> None:
        from breathform.firmware_bridge.decode import SensorDecoder

        self.sensors = tuple(sensors)
        self.decoders = {s.role: SensorDecoder(s.role, s.kind, s.fs_hz) for s in sensors}
        self.rec = {s.role: Recording() for s in sensors}

    def feed(self, batch: Sequence[RawPacket]) -> None:
        for pkt in batch:
            dec = self.decoders.get(pkt.sensor)
            if dec is None:
                continue
            for item in dec.feed(pkt):
                if isinstance(item, ImuBlock):
                    self.rec[item.sensor].add(item)

    def latest_s(self) -> float:
        return min(r.latest_s for r in self.rec.values())


class _SimStream(_Stream):
    """The simulator's runner: stands for 40 s; a retry replays the same stand."""

    def __init__(self, cfg: config_mod.Config, seed: int, move_first: bool) -> None:
        from breathform.sim.source import SimSource

        src = SimSource.create(cfg, duration_s=80.0, seed=seed, flat=True)
        super().__init__(src.sensors)
        for b in src.batches():
            if b[0].t_rx_s > 42.0:
                break
            self.feed(b)
        self.move_first = move_first
        self.attempt = 0
        self.label = f"sim:seed={seed}"

    async def capture(self, t0_s: float, seconds: float, what: str, console: Console
                      ) -> tuple[float, _Captured]:
        out = {r: rec.window(t0_s, t0_s + seconds) for r, rec in self.rec.items()}
        console.print(f"  recording {what}: {seconds:.0f} s … done (simulated)",
                      highlight=False)
        if what == "stand":
            self.attempt += 1
            if self.move_first and self.attempt == 1:
                # the simulated runner shifts their weight during the first try
                t, a, g = out["chest"]
                sway = 0.15 * np.sin(2 * np.pi * 1.5 * t)[:, None] * np.array([1.0, 0, 0])
                out["chest"] = (t, a + sway, g)
        return t0_s, out


class _BleStream(_Stream):
    """Live sensors of the config, streamed until the captures are done."""

    def __init__(self, it: AsyncIterator[list[RawPacket]], sensors: Sequence[SensorInfo]
                 ) -> None:
        super().__init__(sensors)
        self.it = it
        self.label = "ble"

    async def capture(self, t0_s: float, seconds: float, what: str, console: Console
                      ) -> tuple[float, _Captured]:
        from rich.progress import BarColumn, Progress, TextColumn

        start = max(t0_s, self.latest_s())
        next_line = seconds - 5.0
        # a countdown bar on a terminal; a line every 5 s otherwise (logs, tests)
        bar = Progress(TextColumn(f"  {what}"), BarColumn(),
                       TextColumn("{task.fields[left]} s left"), console=console,
                       transient=True, disable=not console.is_terminal)
        with bar:
            task = bar.add_task(what, total=seconds, left=math.ceil(seconds))
            while self.latest_s() < start + seconds:
                done = max(0.0, self.latest_s() - start)
                left = math.ceil(seconds - done)
                bar.update(task, completed=done, left=left)
                if not console.is_terminal and left <= next_line:
                    console.print(f"  {what}: {left} s left", highlight=False)
                    next_line = left - 5.0
                try:
                    batch = await anext(self.it)
                except StopAsyncIteration:
                    raise BreathformError("the sensors stopped streaming during the "
                                          "calibration") from None
                self.feed(batch)
        console.print(f"  recording {what}: {seconds:.0f} s … done", highlight=False)
        return start, {r: rec.window(start, start + seconds) for r, rec in self.rec.items()}


async def _countdown(console: Console, live: bool) -> None:
    for k in (3, 2, 1):
        console.print(f"  {k}…", end=" ")
        if live:
            await asyncio.sleep(1.0)
    console.print("go")


async def _calibrate(stream: _SimStream | _BleStream, cfg: config_mod.Config,
                     console: Console, retries: int, live: bool) -> prof.StoredCalibration:
    fs = {s.role: s.fs_hz for s in stream.sensors}
    kinds = {s.role: s.kind for s in stream.sensors}
    t0 = 0.0 if isinstance(stream, _SimStream) else stream.latest_s()
    verticals: dict[str, tuple[float, float, float]] = {}
    t_stand = t0
    for attempt in range(1, retries + 2):
        console.print(f"[bold]1/2 Stand still[/] for {STAND_S:.0f} s: upright, arms "
                      f"relaxed, looking ahead (attempt {attempt}).")
        await _countdown(console, live)
        t_stand, got = await stream.capture(t0, STAND_S, "stand", console)
        problems = [pr for r, (t, a, g) in got.items()
                    if (pr := still_problem(r, t, a, g, fs[r], STAND_S)) is not None]
        if not problems:
            verticals = {r: vertical_of(a) for r, (_, a, _) in got.items()}
            break
        console.print(f"[yellow]You moved during the stand[/]: {'; '.join(problems)}. "
                      "Stand still and let's try again.")
        if attempt > retries:
            raise InputError(f"calibration: not still after {attempt} attempts "
                             f"({'; '.join(problems)})")
    console.print(f"[bold]2/2 Breathe quietly[/] for {BREATH_S:.0f} s, still standing: "
                  "normal, relaxed breaths through the nose.")
    await _countdown(console, live)
    t_b, got = await stream.capture(t_stand + STAND_S, BREATH_S, "quiet breathing", console)
    rate, amp = math.nan, None
    if "chest" in got:
        rec = stream.rec["chest"]
        t, a, g = rec.window(t_stand, t_b + BREATH_S)
        rate, amp = resting_breath(t, a, g, fs["chest"], verticals["chest"], t_b)
        if amp is None:
            console.print("[yellow]No steady breathing found in the capture[/]: the resting "
                          "depth stays uncalibrated (it will be learned in the first still "
                          "seconds of a run).")
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    def sensor(role: str) -> prof.SensorCalibration | None:
        if role not in verticals:
            return None
        return prof.SensorCalibration(kinds[role], verticals[role])

    return prof.StoredCalibration(cfg.runner.id, now, stream.label, sensor("chest"),
                                  sensor("sacrum"), rate, amp)


def cmd_calibrate(args: argparse.Namespace, cfg: config_mod.Config, console: Console) -> int:
    """Guide the captures and write the runner profile."""
    path = prof.resolve_path(args.profile, cfg.runner.profile)
    if args.retries < 0:
        raise InputError(f"--retries must be >= 0, got {args.retries}")
    console.print(f"[bold]breathform calibrate[/]: a {STAND_S:.0f}-s stand and "
                  f"{BREATH_S:.0f}-s of quiet breathing; the result goes to {path}")
    if args.sim:
        stream = _SimStream(cfg, args.seed, args.sim_move)
        result = asyncio.run(_calibrate(stream, cfg, console, args.retries, live=False))
    else:
        result = asyncio.run(_calibrate_ble(args, cfg, console))
    prof.save(result, path)
    console.print(f"[green]saved[/] {path}: {result.describe()}")
    for role in ("chest", "sacrum"):
        sc = getattr(result, role)
        if sc is not None:
            console.print(f"  {role} vertical in sensor axes: "
                          f"[{', '.join(f'{x:+.3f}' for x in sc.vertical)}]", highlight=False)
    return 0


async def _calibrate_ble(args: argparse.Namespace, cfg: config_mod.Config,
                         console: Console) -> prof.StoredCalibration:
    from breathform.cli_ble import _open_backend
    from breathform.firmware_bridge.ble_source import SensorTarget

    targets = []
    for role, given in (("chest", args.chest), ("sacrum", args.sacrum)):
        sc = getattr(cfg.sensors, role)
        address = given or sc.address
        if address:
            targets.append(SensorTarget(role, sc.kind, address, sc.rate_hz, sc.range_g))
    if not any(t.role == "chest" for t in targets):
        raise InputError("calibrate needs the chest sensor: give --chest ADDRESS (and "
                         "--sacrum ADDRESS) or set sensors.chest.address in the config; or "
                         "try it without hardware with --sim")
    backend = await _open_backend(args.bumble)
    try:
        await backend.scan(0.2)  # fail fast without an adapter
        return await calibrate_ble(backend, targets, cfg, console, args.retries)
    finally:
        await backend.close()


async def calibrate_ble(backend: BleBackend, targets: Sequence[SensorTarget],
                        cfg: config_mod.Config, console: Console, retries: int, *,
                        time_scale: float = 1.0, live: bool = True
                        ) -> prof.StoredCalibration:
    """Connect to the sensors, guide both captures, return the calibration.

    Args:
        backend: The Bluetooth host (bleak or bumble).
        targets: The sensors (the chest one at least).
        cfg: The configuration (runner id).
        console: Where the prompts go.
        retries: Stands retried after the runner moved.
        time_scale: Session seconds per loop second (1 for real sensors; an emulation
            played faster sets its factor).
        live: Count down in real seconds before each capture.

    Returns:
        The calibration (not yet saved).

    Raises:
        InputError: If the runner did not stand still in ``retries + 1`` attempts.
        BreathformError: If the sensors stop streaming.
    """
    from breathform.firmware_bridge.ble_source import BleSource
    from breathform.firmware_bridge.link import Backoff

    source = BleSource(backend, targets, backoff=Backoff(initial_s=0.5, max_s=30.0),
                       time_scale=time_scale)
    gen = source.abatches()
    try:
        stream = _BleStream(gen, source.sensors)
        console.print("connecting to the sensors…")
        await stream.capture(0.0, 1.0, "first samples", console)
        return await _calibrate(stream, cfg, console, retries, live=live)
    finally:
        aclose = getattr(gen, "aclose", None)  # stops the streams, disconnects
        if aclose is not None:
            await aclose()


# ----------------------------------------------------------------------------- sessions
def session_processor(cfg: config_mod.Config, sensors: Sequence[SensorInfo], *, source: str,
                      profile_flag: str | None, console: Console | None) -> SessionProcessor:
    """The session's processor, with the runner profile's calibration when it applies.

    Args:
        cfg: The configuration.
        sensors: The session's sensors.
        source: "ble" or "sim:seed=N" (a profile applies only to the source it was made
            with).
        profile_flag: ``--profile`` (None: ``runner.profile`` or the default path).
        console: Where to say which calibration the session uses (None: silent).

    Raises:
        ConfigError: If the profile exists but is not valid.
    """
    path = prof.resolve_path(profile_flag, cfg.runner.profile)
    stored = prof.load(path)
    note = AUTO_CALIBRATION_NOTE
    if stored is None:
        note = f"{note}; no runner profile at {path} (`breathform calibrate` makes one)"
    else:
        why = prof.usable_for(stored, sensors, source)
        if why is not None:
            note = f"{note}; the runner profile {path} is not used: {why}"
            stored = None
    proc = SessionProcessor(cfg, sensors, calibration=stored, calibration_note=note)
    if console is not None:
        console.print(f"calibration: {proc.calibration_note}", style="dim", highlight=False)
    return proc


def replay_processor(cfg: config_mod.Config, sensors: Sequence[SensorInfo],
                     recorded: dict[str, object]) -> SessionProcessor:
    """A processor that calibrates as the recorded session did (stored or automatic)."""
    rec = recorded.get("profile")
    if recorded.get("source") == "profile" and isinstance(rec, dict):
        return SessionProcessor(cfg, sensors, calibration=prof.from_record(rec))
    note = recorded.get("note")
    return SessionProcessor(cfg, sensors, calibration_note=note if isinstance(note, str)
                            else AUTO_CALIBRATION_NOTE)


def add_profile_argument(p: argparse.ArgumentParser) -> None:
    """``--profile FILE`` (shared by calibrate, demo and run)."""
    p.add_argument("--profile", metavar="FILE", default=None,
                   help="runner profile (default: runner.profile, else "
                   "$BREATHFORM_HOME/profile.toml or ~/.config/breathform/profile.toml)")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             common: argparse.ArgumentParser, epilog: str) -> None:
    """Add the ``calibrate`` subcommand."""
    c = sub.add_parser(
        "calibrate", parents=[common], help="guided stand + quiet breathing -> runner profile",
        description="Guides a 10-s standing capture (each sensor's vertical; asks again if "
        "you moved) and a 30-s quiet-breathing capture (resting breathing rate and depth), "
        "from the sensors of the config (as `run`) or from the simulator (--sim), and "
        "stores them in the runner profile, which `run` and `demo` then use. Without a "
        "profile, sessions calibrate automatically in their first steady minute.",
        epilog=epilog)
    c.add_argument("--sim", action="store_true", help="calibrate the simulated runner "
                   "(no hardware needed; `demo --seed N` uses the profile of the same seed)")
    c.add_argument("--seed", type=int, default=1, help="simulator seed (with --sim)")
    c.add_argument("--sim-move", action="store_true",
                   help="(with --sim) the simulated runner moves during the first stand, "
                   "to see the retry")
    c.add_argument("--retries", type=int, default=2, help="stands retried after moving "
                   "(default 2)")
    c.add_argument("--chest", metavar="ADDR", help="chest sensor (default: "
                   "sensors.chest.address)")
    c.add_argument("--sacrum", metavar="ADDR", help="sacrum sensor (default: "
                   "sensors.sacrum.address)")
    c.add_argument("--bumble", metavar="TRANSPORT", help="use bumble's host stack on this "
                   "HCI transport instead of the system's Bluetooth")
    add_profile_argument(c)
    c.set_defaults(func=cmd_calibrate)

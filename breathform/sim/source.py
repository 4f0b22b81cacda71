"""The simulated run as a packet source: the runner, then the device packets it sends."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from breathform.config import Config
from breathform.errors import InputError
from breathform.model import RawPacket, SensorInfo
from breathform.sim.emit import EmitParams, emit_packets
from breathform.sim.run import SimParams, SimRun, simulate_run


def _params(*, duration_s: float, seed: int, flat: bool, chest_fs_hz: float,
            sacrum_fs_hz: float) -> SimParams:
    """Simulator parameters; a short hilly run gets as many climbs (up to 3) as fit."""
    kw = {"seed": seed, "duration_s": round(duration_s), "chest_fs_hz": chest_fs_hz,
          "sacrum_fs_hz": sacrum_fs_hz}
    if flat:
        return SimParams.flat(**kw)
    for n in (3, 2, 1):
        try:
            return SimParams.hilly(n_climbs=n, **kw)
        except InputError:
            continue
    return SimParams.flat(**kw)


class SimSource:
    """Packets of a simulated Polar H10 (chest) and Movesense (sacrum), in receive order.

    Args:
        run: The simulated run (samples and ground truth).
        packets: Its packets, sorted by receive time.
        batch_s: Session seconds of packets per batch.
    """

    live = False
    name = "sim"

    def __init__(self, run: SimRun, packets: list[RawPacket], chest_fs_hz: float,
                 sacrum_fs_hz: float, batch_s: float = 0.5) -> None:
        self.run = run
        self.packets = packets
        self.batch_s = batch_s
        self.sensors: tuple[SensorInfo, ...] = (
            SensorInfo("chest", "polar_h10", chest_fs_hz, 8.0, False),
            SensorInfo("sacrum", "movesense", sacrum_fs_hz, 16.0, True),
        )
        self._truth_t = run.truth.t_s

    @classmethod
    def create(cls, cfg: Config, *, duration_s: float, seed: int, flat: bool = False,
               batch_s: float = 0.5) -> SimSource:
        """Simulate a run and its packets from the config's sensor rates.

        ``batch_s`` groups packets by receive time: large batches are efficient as fast as
        possible; a paced (live-like) run should use small ones (e.g. 0.05 s) so the DSP sees
        each packet about when a live run would.
        """
        chest_fs = cfg.sensors.chest.rate_hz
        sacrum_fs = cfg.sensors.sacrum.rate_hz
        params = _params(duration_s=duration_s, seed=seed, flat=flat, chest_fs_hz=chest_fs,
                         sacrum_fs_hz=sacrum_fs)
        run = simulate_run(params)
        ep = EmitParams(seed=seed, chest_fs_hz=chest_fs, sacrum_fs_hz=sacrum_fs)
        packets = emit_packets(ep, run.chest.t_s, run.chest.acc_g, run.sacrum.t_s,
                               run.sacrum.acc_g, run.sacrum.gyr_dps, hr_t_s=run.hr_t_s,
                               hr_bpm=run.hr_bpm, rr_ms=run.rr_ms)
        return cls(run, packets, chest_fs, sacrum_fs, batch_s=batch_s)

    def batches(self) -> Iterator[list[RawPacket]]:
        """Packets grouped by ``batch_s`` of receive time."""
        buf: list[RawPacket] = []
        edge = self.batch_s
        for p in self.packets:
            if p.t_rx_s >= edge and buf:
                yield buf
                buf = []
                edge = (p.t_rx_s // self.batch_s + 1) * self.batch_s
            buf.append(p)
        if buf:
            yield buf

    def context(self, t_s: float) -> dict[str, str]:
        """The simulator's truth at ``t_s``, for the live view."""
        tr = self.run.truth
        k = int(np.clip(np.searchsorted(self._truth_t, t_s), 0, len(self._truth_t) - 1))
        grade = float(tr.grade_pct[k])
        if bool(tr.climbing[k]):
            where = "climb"
        elif abs(grade) < 1:
            where = "flat"
        else:
            where = "descent" if grade < 0 else "rise"
        ctx = {"sim route": f"{where} {grade:+.0f} %",
               "sim truth": f"breath {float(tr.rate_bpm[k]):.0f} bpm, pelvic tilt "
                            f"{float(tr.pelvic_tilt_deg[k]):+.1f}°"}
        return ctx

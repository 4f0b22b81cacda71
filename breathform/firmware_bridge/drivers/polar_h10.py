"""Polar H10 session: PMD control point dialogue, ACC stream, heart rate.

Sequence (SENSORS.md): enable control-point indications and data notifications first, read
the feature bitmap from the control point, ask for the ACC settings, start ACC with the
chosen rate and range; every answer arrives as a control-point indication
``F0 op type status more params``. On exit, stop ACC before disconnecting: an H10 otherwise
keeps streaming until its battery is flat.
"""

from __future__ import annotations

import contextlib

from breathform.errors import DecodeError
from breathform.firmware_bridge.devices import polar_h10 as dev
from breathform.firmware_bridge.drivers._replies import Mailbox
from breathform.firmware_bridge.link import GattLink, LinkError, NotifyCallback

_H10_MTU_MIN = 232


class PolarH10Driver:
    """Configure and stream a Polar H10's accelerometer and heart rate.

    Args:
        rate_hz: ACC rate: 25, 50, 100 or 200.
        range_g: ACC full scale: 2, 4 or 8.
        response_timeout_s: How long to wait for each control-point answer.

    Attributes:
        features: Measurement types the strap offers (after :meth:`start`).
        acc_settings: The ACC settings it offers (after :meth:`start`).
        mtu_low: True when the link's MTU is below what the H10 wants (232).
        n_streams_stopped: Unsolicited "stream stopped" messages seen.
        acc_factor: The factor the strap's start response says to multiply ACC samples by
            (1.0 when it gives none). The decoder applies it from the stored response.

    Raises:
        InputError: If rate or range is not one the H10 offers.
    """

    kind = "polar_h10"

    def __init__(self, rate_hz: int = 200, range_g: int = 8,
                 response_timeout_s: float = 5.0) -> None:
        self._start_cmd = dev.start_acc_command(rate_hz, range_g)  # validates
        self.rate_hz, self.range_g = rate_hz, range_g
        self.response_timeout_s = response_timeout_s
        self.features: frozenset[int] = frozenset()
        self.acc_settings: tuple[dev.PmdSetting, ...] = ()
        self.mtu_low = False
        self.n_streams_stopped = 0
        self.acc_factor = 1.0
        self._cp = Mailbox()

    async def start(self, link: GattLink, on_packet: NotifyCallback) -> None:
        """Subscribe, check the strap offers the settings, start ACC.

        Args:
            link: A connected link to the strap.
            on_packet: Gets every notification and indication as it arrives.

        Raises:
            LinkError: If the link fails, the strap does not answer, or it refuses.
        """
        mailbox = self._cp
        mailbox.clear()

        def on_cp(uuid: str, data: bytes) -> None:
            on_packet(uuid, data)
            mailbox.offer(data)

        self.mtu_low = link.mtu < _H10_MTU_MIN
        await link.start_notify(dev.PMD_CP_UUID, on_cp)
        await link.start_notify(dev.PMD_DATA_UUID, on_packet)
        if link.has_characteristic(dev.HR_MEASUREMENT_UUID):
            await link.start_notify(dev.HR_MEASUREMENT_UUID, on_packet)
        try:
            self.features = dev.parse_features(await link.read(dev.PMD_CP_UUID))
        except DecodeError as exc:
            raise LinkError(f"{link.address}: not a Polar PMD control point: {exc}") from exc
        if dev.MeasurementType.ACC not in self.features:
            raise LinkError(f"{link.address}: the sensor offers no accelerometer stream "
                            f"(PMD features {sorted(self.features)}); expected a Polar H10")
        resp = await self._command(link, dev.get_settings_command(dev.MeasurementType.ACC))
        self.acc_settings = self._parse_settings(link, resp)
        self._check_offered(link)
        resp = await self._command(link, self._start_cmd, accept=(dev.CpStatus.SUCCESS,
                                                                   dev.CpStatus.ALREADY_IN_STATE))
        if resp.status == dev.CpStatus.ALREADY_IN_STATE:
            # still streaming from an earlier session, maybe with other settings: restart
            await self._command(link, dev.stop_acc_command())
            resp = await self._command(link, self._start_cmd)
        factor = dev.start_response_factor(resp.params)
        self.acc_factor = 1.0 if factor is None else factor

    @staticmethod
    def _parse_settings(link: GattLink, resp: dev.CpResponse) -> tuple[dev.PmdSetting, ...]:
        try:
            return dev.parse_settings(resp.params)
        except DecodeError as exc:
            raise LinkError(f"{link.address}: malformed ACC settings: {exc}") from exc

    def _check_offered(self, link: GattLink) -> None:
        offered = {s.setting_type: s.values for s in self.acc_settings}
        for st, want, what in ((dev.SettingType.SAMPLE_RATE, self.rate_hz, "rate_hz"),
                               (dev.SettingType.RANGE, self.range_g, "range_g")):
            vals = offered.get(st)
            if vals is not None and want not in vals:
                raise LinkError(f"{link.address}: the strap offers ACC {what} "
                                f"{[int(v) for v in vals]}, not {want}")

    async def _command(self, link: GattLink, cmd: bytes,
                       accept: tuple[int, ...] = (dev.CpStatus.SUCCESS,)) -> dev.CpResponse:
        """Write a command and wait for its answer (joining continuation frames)."""
        await link.write(dev.PMD_CP_UUID, cmd, response=True)
        params = b""
        first: dev.CpResponse | None = None
        while True:
            try:
                raw = await self._cp.get(self.response_timeout_s)
            except TimeoutError as exc:
                raise LinkError(f"{link.address}: no PMD answer to {cmd.hex(' ')} within "
                                f"{self.response_timeout_s:g} s") from exc
            try:
                msg = dev.parse_cp_response(raw)
            except DecodeError:
                continue  # garbage on the control point: not our answer
            if isinstance(msg, dev.CpStreamsStopped):
                self.n_streams_stopped += 1
                continue
            if msg.opcode != cmd[0] or msg.measurement_type != (cmd[1] & 0x3F):
                continue  # a late answer to an earlier command
            if first is None:
                first = msg
            params += msg.params
            if not msg.more:
                break
        resp = dev.CpResponse(first.opcode, first.measurement_type, first.status, False, params)
        if resp.status not in accept:
            raise LinkError(f"{link.address}: PMD command {cmd.hex(' ')} refused: status "
                            f"{resp.status} ({resp.status_name})")
        return resp

    async def wait_stopped(self) -> None:
        """Return when the strap sends "streams stopped" (``01 <types>``) for ACC.

        Call while streaming: it consumes control-point messages that no command awaits.
        """
        while True:
            raw = await self._cp.get(None)
            try:
                msg = dev.parse_cp_response(raw)
            except DecodeError:
                continue
            if isinstance(msg, dev.CpStreamsStopped):
                self.n_streams_stopped += 1
                if dev.MeasurementType.ACC in msg.measurement_types:
                    return

    async def stop(self, link: GattLink) -> None:
        """Stop the ACC stream (best effort: the link may already be down)."""
        if not link.is_connected:
            return
        with contextlib.suppress(LinkError):
            await self._command(link, dev.stop_acc_command(),
                                accept=(dev.CpStatus.SUCCESS, dev.CpStatus.ALREADY_IN_STATE,
                                        dev.CpStatus.INVALID_STATE))

"""Movesense session over the sensor-data protocol: subscribe to IMU6, unsubscribe.

The firmware (``gatt_sensordata_app``) drops every subscription when the link drops, so a
reconnect simply runs :meth:`MovesenseDriver.start` again.
"""

from __future__ import annotations

import contextlib

from breathform.errors import DecodeError
from breathform.firmware_bridge.devices import movesense as dev
from breathform.firmware_bridge.drivers._replies import Mailbox
from breathform.firmware_bridge.drivers.base import never_stops
from breathform.firmware_bridge.link import GattLink, LinkError, NotifyCallback

_STATUS_NAMES = {200: "OK", 202: "accepted", 404: "not found", 409: "conflict",
                 429: "too many subscriptions"}


class MovesenseDriver:
    """Subscribe to a Movesense's IMU6 (acc + gyro) stream.

    Args:
        rate_hz: 52, 104 or 208.
        ref: Subscription reference byte, 1..255.
        response_timeout_s: How long to wait for a command result.

    Raises:
        InputError: If the rate or ref is out of range.
    """

    kind = "movesense"

    def __init__(self, rate_hz: int = 104, ref: int = 99,
                 response_timeout_s: float = 5.0) -> None:
        self._sub_cmd = dev.subscribe_command(ref, dev.imu6_path(rate_hz))  # validates
        self.rate_hz, self.ref = rate_hz, ref
        self.response_timeout_s = response_timeout_s
        self._box = Mailbox()

    async def start(self, link: GattLink, on_packet: NotifyCallback) -> None:
        """Enable notifications and subscribe to IMU6.

        Args:
            link: A connected link to the sensor.
            on_packet: Gets every notification as it arrives.

        Raises:
            LinkError: If the link fails or the sensor refuses the subscription.
        """
        box = self._box
        box.clear()

        def on_note(uuid: str, data: bytes) -> None:
            on_packet(uuid, data)
            box.offer(data)

        await link.start_notify(dev.NOTIFY_UUID, on_note)
        status = await self._command(link, self._sub_cmd)
        if status == 409:  # still subscribed from before: start over
            await self._command(link, dev.unsubscribe_command(self.ref))
            status = await self._command(link, self._sub_cmd)
        if status not in dev.OK_STATUSES:
            raise LinkError(f"{link.address}: Movesense refused {dev.imu6_path(self.rate_hz)}: "
                            f"status {status} ({_STATUS_NAMES.get(status, 'unknown')})")

    async def _command(self, link: GattLink, cmd: bytes) -> int:
        """Write a command and wait for the result with its ref."""
        await link.write(dev.WRITE_UUID, cmd, response=True)
        while True:
            try:
                raw = await self._box.get(self.response_timeout_s)
            except TimeoutError as exc:
                raise LinkError(f"{link.address}: no Movesense result for {cmd.hex(' ')} "
                                f"within {self.response_timeout_s:g} s") from exc
            try:
                note = dev.decode_notification(raw)
            except DecodeError:
                continue
            if isinstance(note, dev.MovesenseResult) and note.ref == cmd[1]:
                return note.status

    async def wait_stopped(self) -> None:
        """Never returns: the firmware does not end a subscription on its own."""
        await never_stops()

    async def stop(self, link: GattLink) -> None:
        """Unsubscribe (best effort: the link may already be down)."""
        if not link.is_connected:
            return
        with contextlib.suppress(LinkError):
            await self._command(link, dev.unsubscribe_command(self.ref))

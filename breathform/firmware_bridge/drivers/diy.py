"""DIY board on breathform's open profile: read the config, check it, enable notifications.

The config characteristic is read once per connection and handed to the packet callback
as if it had been notified, so it is stored with the raw packets (raw first: a replay
sees what the live run saw). The board streams while notifications are on.
"""

from __future__ import annotations

from breathform.errors import DecodeError, InputError
from breathform.firmware_bridge.devices import diy_profile as dev
from breathform.firmware_bridge.drivers.base import never_stops, stop_notifications
from breathform.firmware_bridge.link import GattLink, LinkError, NotifyCallback


class DiyDriver:
    """Stream a DIY board implementing the breathform profile (hardware/README.md).

    Args:
        rate_hz: The rate the session expects; the board's config must say the same.
        range_g: The accelerometer full scale the session records (export ranges come
            from it); the board's config must say the same.

    Attributes:
        config: The board's config (after :meth:`start`).

    Raises:
        InputError: If the rate is out of the profile's range.
    """

    kind = "diy"

    def __init__(self, rate_hz: int, range_g: float = 8.0) -> None:
        if not 1 <= rate_hz <= dev.MAX_RATE_HZ:
            raise InputError(f"rate_hz must be in 1..{dev.MAX_RATE_HZ}, got {rate_hz}")
        self.rate_hz, self.range_g = rate_hz, range_g
        self.config: dev.DiyConfig | None = None

    async def start(self, link: GattLink, on_packet: NotifyCallback) -> None:
        """Read and check the config, then enable data notifications.

        Args:
            link: A connected link to the board.
            on_packet: Gets the config value, then every notification.

        Raises:
            LinkError: If the link fails or the board does not speak the profile.
            InputError: If the board streams at another rate or range than configured, or
                without a gyroscope (retrying would not help).
        """
        if not link.has_characteristic(dev.CONFIG_UUID):
            raise LinkError(f"{link.address}: no breathform DIY config characteristic "
                            f"{dev.CONFIG_UUID}; is the board's firmware on the profile?")
        raw = await link.read(dev.CONFIG_UUID)
        try:
            cfg = dev.decode_config(raw)
        except DecodeError as exc:
            raise LinkError(f"{link.address}: unreadable DIY config: {exc.reason}") from exc
        if cfg.rate_hz != self.rate_hz:
            raise InputError(f"{link.address}: the DIY board streams at {cfg.rate_hz} Hz but "
                             f"rate_hz is {self.rate_hz}; set sensors.<role>.rate_hz = "
                             f"{cfg.rate_hz} in the config")
        if cfg.acc_range_g != self.range_g:
            raise InputError(f"{link.address}: the DIY board's accelerometer range is "
                             f"±{cfg.acc_range_g:g} g but range_g is {self.range_g:g}; set "
                             f"sensors.<role>.range_g = {cfg.acc_range_g:g} in the config")
        if not cfg.has_gyro:
            raise InputError(f"{link.address}: the DIY board sends no gyroscope (config flag "
                             "bit 0 clear); live runs need a 6-axis IMU")
        self.config = cfg
        on_packet(dev.CONFIG_UUID, bytes(raw))
        await link.start_notify(dev.DATA_UUID, on_packet)

    async def wait_stopped(self) -> None:
        """Never returns: the profile has no "stopped" message."""
        await never_stops()

    async def stop(self, link: GattLink) -> None:
        """Disable notifications, which stops the board's stream (best effort)."""
        await stop_notifications(link, dev.DATA_UUID)

"""WitMotion BWT901BLE5.0 session: enable notifications, set the output rate.

The sensor streams 0x61 packets as soon as notifications are on; the output rate is a
register (``FF AA 03 <code> 00``) written after the unlock command. There is nothing to
stop: disabling notifications ends the stream for this link, and the sensor keeps its
settings (they are not saved, so a power cycle restores the stored rate).
"""

from __future__ import annotations

from breathform.firmware_bridge.devices import witmotion as dev
from breathform.firmware_bridge.drivers.base import never_stops, stop_notifications
from breathform.firmware_bridge.link import GattLink, LinkError, NotifyCallback


class WitMotionDriver:
    """Stream a WitMotion BWT901BLE5.0 at the given output rate.

    Args:
        rate_hz: 10, 50, 100 or 200.

    Raises:
        InputError: If the rate is not one the sensor offers.
    """

    kind = "witmotion"

    def __init__(self, rate_hz: int = 100) -> None:
        self._rate_cmd = dev.rate_command(rate_hz)  # validates
        self.rate_hz = rate_hz

    async def start(self, link: GattLink, on_packet: NotifyCallback) -> None:
        """Enable notifications, unlock and set the output rate.

        Args:
            link: A connected link to the sensor.
            on_packet: Gets every notification as it arrives.

        Raises:
            LinkError: If the link fails or the device is not a WitMotion.
        """
        if not link.has_characteristic(dev.NOTIFY_UUID):
            raise LinkError(f"{link.address}: no WitMotion data characteristic "
                            f"{dev.NOTIFY_UUID}; expected a BWT901BLE5.0")
        await link.start_notify(dev.NOTIFY_UUID, on_packet)
        await link.write(dev.WRITE_UUID, dev.UNLOCK, response=False)
        await link.write(dev.WRITE_UUID, self._rate_cmd, response=False)

    async def wait_stopped(self) -> None:
        """Never returns: the sensor does not end its stream on its own."""
        await never_stops()

    async def stop(self, link: GattLink) -> None:
        """Disable notifications (best effort: the link may already be down)."""
        await stop_notifications(link, dev.NOTIFY_UUID)

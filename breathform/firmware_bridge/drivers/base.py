"""What the live source needs from a sensor driver."""

from __future__ import annotations

from typing import Protocol

from breathform.firmware_bridge.link import GattLink, NotifyCallback


class SensorDriver(Protocol):
    """Starts and stops one sensor's streams over a connected link."""

    kind: str

    async def start(self, link: GattLink, on_packet: NotifyCallback) -> None:
        """Subscribe, configure and start streaming.

        Every notification (data and control) goes to ``on_packet`` as it arrives.

        Raises:
            LinkError: If the link fails or the sensor refuses the configuration.
        """
        ...

    async def wait_stopped(self) -> None:
        """Return when the sensor says it stopped streaming on its own (after start).

        Sensors that never do simply never return.
        """
        ...

    async def stop(self, link: GattLink) -> None:
        """Stop the streams (so the sensor does not stream on after we leave)."""
        ...

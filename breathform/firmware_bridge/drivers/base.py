"""What the live source needs from a sensor driver."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

from breathform.firmware_bridge.link import GattLink, LinkError, NotifyCallback


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


async def never_stops() -> None:
    """``wait_stopped`` of a sensor that never ends its stream on its own."""
    await asyncio.Event().wait()


async def stop_notifications(link: GattLink, char_uuid: str) -> None:
    """Disable notifications, best effort: the link may already be down."""
    if not link.is_connected:
        return
    with contextlib.suppress(LinkError):
        await link.stop_notify(char_uuid)

"""The small GATT-link interface the sensor drivers talk to, and what goes with it.

Two implementations: :mod:`breathform.firmware_bridge.bleak_link` (the operating system's
Bluetooth through bleak: BlueZ, CoreBluetooth, WinRT) and
:mod:`breathform.firmware_bridge.bumble_link` (bumble's own host stack, over a USB dongle,
a TCP/serial HCI transport or an in-process virtual controller for the tests). The drivers
(:mod:`breathform.firmware_bridge.drivers`) and the live source
(:mod:`breathform.firmware_bridge.ble_source`) only see :class:`GattLink` and
:class:`BleBackend`.

Notification callbacks are plain functions called on the event-loop thread with the
characteristic UUID and the bytes; they must only timestamp and enqueue (STYLE.md §5).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from breathform.errors import BreathformError, InputError

NotifyCallback = Callable[[str, bytes], None]
"""``callback(char_uuid, data)``: a notification or indication arrived (plain def)."""

DisconnectCallback = Callable[[], None]
"""Called once when an established link drops (or is closed)."""


class LinkError(BreathformError):
    """A BLE link could not be opened, or an operation on it failed."""


class NoAdapterError(LinkError):
    """There is no usable Bluetooth adapter (or Bluetooth service) on this machine."""


def normalize_uuid(uuid: str) -> str:
    """Expand a 16- or 32-bit UUID to the lowercase 128-bit form.

    Args:
        uuid: e.g. ``"2A37"``, ``"0x180d"`` or a full 128-bit UUID in any case.

    Returns:
        The lowercase 128-bit form, e.g. ``"00002a37-0000-1000-8000-00805f9b34fb"``.

    Raises:
        InputError: If the text is not a UUID.
    """
    u = uuid.strip().lower()
    if u.startswith("0x"):
        u = u[2:]
    if len(u) in (4, 8) and all(c in "0123456789abcdef" for c in u):
        return f"{int(u, 16):08x}-0000-1000-8000-00805f9b34fb"
    parts = u.split("-")
    if [len(p) for p in parts] == [8, 4, 4, 4, 12] and all(
            c in "0123456789abcdef" for p in parts for c in p):
        return u
    raise InputError(f"not a Bluetooth UUID: {uuid!r}; expected 4, 8 or 32 hex digits "
                     "(128-bit UUIDs with dashes)")


@dataclass(frozen=True, slots=True)
class Advertisement:
    """A device seen while scanning.

    Attributes:
        address: Its address as the backend spells it (what ``open_link`` accepts).
        name: Its advertised local name ("" when it sends none).
        rssi_dbm: Signal strength.
        service_uuids: Advertised service UUIDs, lowercase 128-bit.
        kind: The sensor kind breathform recognises it as ("polar_h10", "movesense",
            "witmotion", "diy"), or None.
    """

    address: str
    name: str
    rssi_dbm: int
    service_uuids: tuple[str, ...] = ()
    kind: str | None = None


_POLAR_PMD = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
_MOVESENSE = "34802252-7185-4d5d-b431-630e7050e8f0"
_WITMOTION = "0000ffe5-0000-1000-8000-00805f9a34fb"
_DIY = "bf010001-5b3a-4c1e-9d57-627265617468"


def classify(name: str, service_uuids: tuple[str, ...] = ()) -> str | None:
    """The supported sensor kind a device advertises itself as.

    Args:
        name: Advertised local name (Polar H10 straps: "Polar H10 <id>"; Movesense:
            "Movesense <serial>"; WitMotion: "WT901BLE..."; DIY boards: "BF-DIY ...").
        service_uuids: Advertised services, lowercase 128-bit.

    Returns:
        "polar_h10", "movesense", "witmotion", "diy" or None.
    """
    if name.startswith("Polar H10") or _POLAR_PMD in service_uuids:
        return "polar_h10"
    if name.startswith("Movesense") or _MOVESENSE in service_uuids:
        return "movesense"
    if name.startswith("BF-DIY") or _DIY in service_uuids:
        return "diy"
    if name.startswith(("WT901", "BWT901")) or _WITMOTION in service_uuids:
        return "witmotion"
    return None


class LinkBase:
    """State every GattLink implementation keeps, and the link-drop bookkeeping.

    The peer's address, whether the link is up, the notification callbacks and the
    callback for a dropped link.

    Args:
        address: The peer's address (or name), as given.
    """

    def __init__(self, address: str) -> None:
        self._address = address
        self._connected = False
        self._on_disconnect: DisconnectCallback | None = None
        self._callbacks: dict[str, NotifyCallback] = {}

    @property
    def address(self) -> str:
        """The peer's address."""
        return self._address

    @property
    def is_connected(self) -> bool:
        """True while the link is up."""
        return self._connected

    def set_disconnected_callback(self, callback: DisconnectCallback | None) -> None:
        """Register the function called when the link drops."""
        self._on_disconnect = callback

    def _dropped(self, *_: object) -> None:
        """Mark the link down and tell the callback, once per drop."""
        was = self._connected
        self._connected = False
        if was and self._on_disconnect is not None:
            self._on_disconnect()


class GattLink(Protocol):
    """One BLE connection to one peripheral, as the drivers use it."""

    @property
    def address(self) -> str:
        """The peer's address."""
        ...

    @property
    def is_connected(self) -> bool:
        """True between a successful :meth:`connect` and the link dropping."""
        ...

    @property
    def mtu(self) -> int:
        """The negotiated ATT MTU (23 before any exchange)."""
        ...

    async def connect(self, timeout_s: float) -> None:
        """Connect and discover the peer's services.

        Raises:
            LinkError: If the peer cannot be reached within ``timeout_s``.
        """
        ...

    async def disconnect(self) -> None:
        """Close the link (no error when it is already down)."""
        ...

    def set_disconnected_callback(self, callback: DisconnectCallback | None) -> None:
        """Register the function called when the link drops."""
        ...

    def has_characteristic(self, char_uuid: str) -> bool:
        """Whether the connected peer offers this characteristic."""
        ...

    async def read(self, char_uuid: str) -> bytes:
        """Read a characteristic's value."""
        ...

    async def write(self, char_uuid: str, data: bytes, *, response: bool) -> None:
        """Write a characteristic (with or without response)."""
        ...

    async def start_notify(self, char_uuid: str, callback: NotifyCallback) -> None:
        """Enable notifications or indications (whichever the characteristic offers)."""
        ...

    async def stop_notify(self, char_uuid: str) -> None:
        """Disable them again."""
        ...


class BleBackend(Protocol):
    """A Bluetooth host: scans and opens links."""

    name: str

    async def scan(self, timeout_s: float, *,
                   stop_when: Callable[[Advertisement], bool] | None = None
                   ) -> list[Advertisement]:
        """Devices seen within ``timeout_s`` (sooner once ``stop_when`` accepts one).

        Raises:
            NoAdapterError: If there is no Bluetooth adapter.
        """
        ...

    async def open_link(self, address: str) -> GattLink:
        """A link (not yet connected) to the device at ``address``."""
        ...

    async def close(self) -> None:
        """Release the adapter."""
        ...


async def find_address(backend: BleBackend, address_or_name: str, *, timeout_s: float = 10.0,
                       kind: str | None = None) -> str:
    """Resolve a device name (or name prefix) to an address by scanning.

    An argument that looks like an address (``AA:BB:CC:DD:EE:FF``, or a macOS UUID) is
    returned as is.

    Args:
        backend: Where to scan.
        address_or_name: An address, or the start of an advertised name such as
            "Polar H10 1A2B3C4D" or "Movesense 2123".
        timeout_s: How long to scan.
        kind: Only accept devices recognised as this kind.

    Returns:
        The address.

    Raises:
        LinkError: If no matching device advertised within ``timeout_s``.
    """
    if looks_like_address(address_or_name):
        return address_or_name

    def match(a: Advertisement) -> bool:
        return a.name.startswith(address_or_name) and (kind is None or a.kind == kind)

    found = [a for a in await backend.scan(timeout_s, stop_when=match) if match(a)]
    if not found:
        raise LinkError(f"no device named {address_or_name!r}"
                        f"{'' if kind is None else f' ({kind})'} advertised within "
                        f"{timeout_s:g} s; expected a sensor that is on and not connected "
                        "to another app (run `breathform scan`)")
    return max(found, key=lambda a: a.rssi_dbm).address


def looks_like_address(text: str) -> bool:
    """True for ``AA:BB:CC:DD:EE:FF`` (optionally with a bumble ``/P`` suffix) or a UUID."""
    t = text.split("/")[0]
    parts = t.split(":")
    hexd = "0123456789abcdefABCDEF"
    if len(parts) == 6 and all(len(p) == 2 and all(c in hexd for c in p) for p in parts):
        return True
    try:
        normalize_uuid(t)
    except InputError:
        return False
    return len(t) == 36


@dataclass(frozen=True, slots=True)
class Backoff:
    """Reconnection delays: ``initial_s * factor**k``, capped at ``max_s``.

    Attributes:
        initial_s: First delay after a drop or a failed attempt.
        factor: Growth per failed attempt.
        max_s: Largest delay.
    """

    initial_s: float = 0.5
    factor: float = 2.0
    max_s: float = 30.0

    def __post_init__(self) -> None:
        if not (0 < self.initial_s <= self.max_s):
            raise InputError(f"need 0 < initial_s <= max_s, got initial_s={self.initial_s}, "
                             f"max_s={self.max_s}")
        if not self.factor >= 1:
            raise InputError(f"factor must be >= 1, got {self.factor}")

    def delay_s(self, attempt: int) -> float:
        """Delay before retry number ``attempt`` (0 = the first retry)."""
        if attempt < 0:
            raise InputError(f"attempt must be >= 0, got {attempt}")
        # cap the exponent so a long outage cannot overflow the float
        return min(self.max_s, self.initial_s * self.factor ** min(attempt, 64))

    def delays_s(self) -> Iterator[float]:
        """The endless sequence of delays."""
        k = 0
        while True:
            yield self.delay_s(k)
            k += 1

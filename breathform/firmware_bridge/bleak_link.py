"""The GATT-link interface on bleak, the operating system's Bluetooth.

BlueZ on Linux, CoreBluetooth on macOS, WinRT on Windows.

This is the only module that imports bleak. Notes for the sensors we use:

- BlueZ negotiates an ATT MTU of 517 by itself; bleak cannot request one on Linux (the H10
  needs >= 232 for its 36-sample ACC frames, see :attr:`BleakLink.mtu`).
- Some BlueZ hosts drop links ~150 s after connecting (a rejected connection parameter
  update); :class:`~breathform.firmware_bridge.ble_source.BleSource` reconnects and
  restarts the streams.
- With no adapter (or no BlueZ/D-Bus on Linux) every call raises
  :class:`~breathform.firmware_bridge.link.NoAdapterError` with a message, never a bleak
  or D-Bus traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from breathform.firmware_bridge.link import (
    Advertisement,
    LinkBase,
    LinkError,
    NoAdapterError,
    NotifyCallback,
    classify,
    normalize_uuid,
)

_NO_ADAPTER_HINT = ("no usable Bluetooth adapter: on Linux BlueZ (bluetoothd) and the "
                    "D-Bus system bus must be running and an adapter powered on "
                    "(`bluetoothctl power on`); or use a USB dongle through bumble "
                    "with --bumble usb:0")


def _import_bleak() -> Any:
    try:
        import bleak
    except ImportError as exc:  # the "ble" extra is not installed
        raise NoAdapterError("bleak is not installed: pip install 'breathform[ble]'") from exc
    return bleak


def _is_adapter_problem(exc: BaseException) -> bool:
    """Errors that mean "no Bluetooth here", not "this device failed"."""
    bleak = _import_bleak()
    not_available = getattr(bleak.exc, "BleakBluetoothNotAvailableError", None)  # bleak >= 1
    if not_available is not None and isinstance(exc, not_available):
        return True
    if isinstance(exc, (FileNotFoundError, ConnectionRefusedError, PermissionError)):
        return True  # no D-Bus socket / no BlueZ
    text = str(exc).lower()
    return any(s in text for s in ("no bluetooth adapter", "adapter", "org.bluez",
                                   "not available", "dbus"))


def _wrap(exc: BaseException, what: str) -> LinkError:
    if _is_adapter_problem(exc):
        return NoAdapterError(f"{what}: {_NO_ADAPTER_HINT} ({type(exc).__name__}: {exc})")
    return LinkError(f"{what}: {exc or type(exc).__name__}")


class BleakBackend:
    """The operating system's Bluetooth adapter through bleak.

    Args:
        adapter: Adapter name on Linux (e.g. "hci1"); None for the default.
    """

    name = "bleak"

    def __init__(self, adapter: str | None = None) -> None:
        self._bleak = _import_bleak()
        self.adapter = adapter
        self._devices: dict[str, Any] = {}  # address -> BLEDevice from the last scan

    def _kwargs(self) -> dict[str, Any]:
        return {} if self.adapter is None else {"bluez": {"adapter": self.adapter}}

    async def scan(self, timeout_s: float, *,
                   stop_when: Callable[[Advertisement], bool] | None = None
                   ) -> list[Advertisement]:
        """Scan for ``timeout_s`` (or until ``stop_when`` accepts a device).

        Raises:
            NoAdapterError: If there is no adapter.
            LinkError: If the scan fails otherwise.
        """
        seen: dict[str, Advertisement] = {}
        done = asyncio.Event()

        def on_adv(device: Any, adv: Any) -> None:
            name = adv.local_name or device.name or ""
            uuids = tuple(normalize_uuid(u) for u in (adv.service_uuids or ()))
            a = Advertisement(address=str(device.address), name=name,
                              rssi_dbm=int(adv.rssi), service_uuids=uuids,
                              kind=classify(name, uuids))
            seen[a.address] = a
            self._devices[a.address] = device
            if stop_when is not None and stop_when(a):
                done.set()

        try:
            scanner = self._bleak.BleakScanner(on_adv, **self._kwargs())
            async with scanner:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(done.wait(), timeout_s)
        except (self._bleak.exc.BleakError, OSError) as exc:
            raise _wrap(exc, "BLE scan failed") from exc
        return list(seen.values())

    async def open_link(self, address: str) -> BleakLink:
        """A link (not yet connected) to ``address``."""
        return BleakLink(self, address)

    async def close(self) -> None:
        """Nothing to release: bleak owns no adapter state here."""


class BleakLink(LinkBase):
    """One bleak client connection.

    Args:
        backend: The backend (for the adapter and scanned devices).
        address: Peer address (a UUID on macOS).
    """

    def __init__(self, backend: BleakBackend, address: str) -> None:
        super().__init__(address)
        self._backend = backend
        self._client: Any = None
        self._chars: set[str] = set()

    @property
    def mtu(self) -> int:
        """The ATT MTU bleak reports (517 on BlueZ by default)."""
        if self._client is None:
            return 23
        with contextlib.suppress(Exception):
            return int(self._client.mtu_size)
        return 23

    async def connect(self, timeout_s: float) -> None:
        """Connect (services are discovered by bleak on connect).

        Raises:
            NoAdapterError: If there is no adapter.
            LinkError: If the peer cannot be reached.
        """
        bleak = self._backend._bleak
        target = self._backend._devices.get(self._address, self._address)
        try:
            client = bleak.BleakClient(target, self._dropped, timeout=timeout_s,
                                       **self._backend._kwargs())
            await client.connect()
        except (TimeoutError, bleak.exc.BleakError, OSError) as exc:
            raise _wrap(exc, f"cannot connect to {self._address}") from exc
        self._client = client
        self._callbacks.clear()
        self._connected = True
        self._chars = {normalize_uuid(str(c.uuid)) for s in client.services
                       for c in s.characteristics}

    async def disconnect(self) -> None:
        """Disconnect; no error when already down."""
        client, self._client = self._client, None
        self._connected = False
        if client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.disconnect(), 10.0)

    def has_characteristic(self, char_uuid: str) -> bool:
        """Whether the peer offers this characteristic."""
        return normalize_uuid(char_uuid) in self._chars

    def _need(self) -> Any:
        if self._client is None or not self._connected:
            raise LinkError(f"{self._address}: not connected")
        return self._client

    async def read(self, char_uuid: str) -> bytes:
        """Read a characteristic."""
        client = self._need()
        try:
            return bytes(await client.read_gatt_char(normalize_uuid(char_uuid)))
        except (TimeoutError, self._backend._bleak.exc.BleakError, OSError) as exc:
            raise _wrap(exc, f"{self._address}: read {char_uuid} failed") from exc

    async def write(self, char_uuid: str, data: bytes, *, response: bool) -> None:
        """Write a characteristic."""
        client = self._need()
        try:
            await client.write_gatt_char(normalize_uuid(char_uuid), bytes(data),
                                         response=response)
        except (TimeoutError, self._backend._bleak.exc.BleakError, OSError) as exc:
            raise _wrap(exc, f"{self._address}: write {char_uuid} failed") from exc

    async def start_notify(self, char_uuid: str, callback: NotifyCallback) -> None:
        """Enable notifications or indications (bleak picks what the peer offers)."""
        client = self._need()
        key = normalize_uuid(char_uuid)
        subscribed = key in self._callbacks
        self._callbacks[key] = callback
        if subscribed:  # already on: only the callback changes (BlueZ refuses a 2nd start)
            return
        callbacks = self._callbacks

        def on_value(_char: Any, data: bytearray) -> None:  # plain def: no task per packet
            cb = callbacks.get(key)
            if cb is not None:
                cb(key, bytes(data))

        try:
            await client.start_notify(key, on_value)
        except (TimeoutError, self._backend._bleak.exc.BleakError, OSError) as exc:
            self._callbacks.pop(key, None)
            raise _wrap(exc, f"{self._address}: subscribe to {char_uuid} failed") from exc

    async def stop_notify(self, char_uuid: str) -> None:
        """Disable notifications."""
        client = self._need()
        self._callbacks.pop(normalize_uuid(char_uuid), None)
        try:
            await client.stop_notify(normalize_uuid(char_uuid))
        except (TimeoutError, self._backend._bleak.exc.BleakError, OSError) as exc:
            raise _wrap(exc, f"{self._address}: unsubscribe from {char_uuid} failed") from exc

"""The GATT-link interface on bumble's own BLE host stack.

For users with a USB Bluetooth dongle (``usb:0``), an HCI over serial or TCP (bumble's
controller apps), and for the tests: :meth:`BumbleBackend.from_device` takes a bumble
``Device`` already attached to a virtual controller (``bumble.controller.Controller`` on a
``bumble.link.LocalLink``), so breathform and emulated sensors
(:mod:`breathform.sim.peripherals`) talk over a real host stack in one process.

This is the only module that imports bumble's central-side API.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid as uuid_mod
from collections.abc import Callable
from typing import Any

from bumble import core
from bumble.device import Connection, Device, Peer
from bumble.hci import Address

from breathform.firmware_bridge.link import (
    Advertisement,
    LinkBase,
    LinkError,
    NoAdapterError,
    NotifyCallback,
    classify,
    normalize_uuid,
)

_ATT_MTU_WANTED = 517
"""What BlueZ negotiates by itself; the H10 needs >= 232 for 36-sample ACC frames."""

_ERRORS: tuple[type[BaseException], ...] = (core.BaseBumbleError, asyncio.TimeoutError,
                                            OSError, ConnectionError)


def _uuid128(u: core.UUID) -> str:
    """Turn a bumble UUID into lowercase 128-bit text (bumble keeps 16-bit ones short)."""
    return str(uuid_mod.UUID(bytes=bytes(reversed(u.to_bytes(force_128=True)))))


def _address(text: str) -> Address:
    """``AA:BB:..`` is a random address (what sensors advertise); ``AA:BB:../P`` public."""
    try:
        return Address(text)
    except (ValueError, core.BaseBumbleError) as exc:
        raise LinkError(f"not a Bluetooth address: {text!r}; expected AA:BB:CC:DD:EE:FF "
                        "(append /P for a public address)") from exc


class BumbleBackend:
    """A bumble ``Device`` acting as breathform's central.

    Args:
        device: A powered-on bumble device.
        transport: The HCI transport to close with the backend, when it owns one.
    """

    name = "bumble"

    def __init__(self, device: Device, transport: Any = None) -> None:
        self.device = device
        self._transport = transport
        # bumble refuses a second LE connect while one is pending: reconnects queue here
        self.connect_lock = asyncio.Lock()

    @classmethod
    async def open(cls, transport: str) -> BumbleBackend:
        """Open an HCI transport (e.g. ``usb:0``, ``tcp-client:127.0.0.1:9001``).

        Args:
            transport: A bumble transport name.

        Returns:
            A powered-on backend.

        Raises:
            NoAdapterError: If the transport cannot be opened or the controller does not
                answer.
        """
        from bumble.transport import open_transport

        try:
            tr = await asyncio.wait_for(open_transport(transport), 10.0)
        except Exception as exc:  # noqa: BLE001  usb1, serial, socket... each raise their own
            raise NoAdapterError(f"cannot open the bumble HCI transport {transport!r}: "
                                 f"{exc or type(exc).__name__}; expected e.g. usb:0 (a USB "
                                 "Bluetooth dongle) or tcp-client:HOST:PORT") from exc
        device = Device.with_hci("breathform", Address("F0:F0:F0:F0:F0:F0"), tr.source,
                                 tr.sink)
        try:
            await asyncio.wait_for(device.power_on(), 10.0)
        except _ERRORS as exc:
            await tr.close()
            raise NoAdapterError(f"the Bluetooth controller on {transport!r} did not "
                                 f"answer: {exc or type(exc).__name__}") from exc
        return cls(device, tr)

    @classmethod
    def from_device(cls, device: Device) -> BumbleBackend:
        """Wrap a device the caller created and powered on (tests, virtual controllers)."""
        return cls(device)

    async def scan(self, timeout_s: float, *,
                   stop_when: Callable[[Advertisement], bool] | None = None
                   ) -> list[Advertisement]:
        """Scan for ``timeout_s`` (or until ``stop_when`` accepts a device).

        Args:
            timeout_s: Longest scan.
            stop_when: Stop as soon as this returns True for a device seen.

        Returns:
            The devices seen, one entry per address (the latest advertisement).
        """
        seen: dict[str, Advertisement] = {}
        done = asyncio.Event()

        def on_adv(adv: Any) -> None:
            data = adv.data
            name = data.get(core.AdvertisingData.COMPLETE_LOCAL_NAME) or data.get(
                core.AdvertisingData.SHORTENED_LOCAL_NAME) or ""
            uuids: list[str] = []
            for t in (core.AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                      core.AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                      core.AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS):
                uuids.extend(_uuid128(u) for u in (data.get(t) or []))
            name = str(name)
            a = Advertisement(address=str(adv.address), name=name, rssi_dbm=int(adv.rssi),
                              service_uuids=tuple(uuids), kind=classify(name, tuple(uuids)))
            seen[a.address] = a
            if stop_when is not None and stop_when(a):
                done.set()

        self.device.on("advertisement", on_adv)
        try:
            await self.device.start_scanning(filter_duplicates=False)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(done.wait(), timeout_s)
        except _ERRORS as exc:
            raise LinkError(f"bumble scan failed: {exc or type(exc).__name__}") from exc
        finally:
            self.device.remove_listener("advertisement", on_adv)
            if self.device.scanning:
                with contextlib.suppress(*_ERRORS):
                    await self.device.stop_scanning()
        return list(seen.values())

    async def open_link(self, address: str) -> BumbleLink:
        """A link (not yet connected) to ``address``."""
        return BumbleLink(self, address)

    async def close(self) -> None:
        """Close the transport, if this backend opened it."""
        if self._transport is not None:
            with contextlib.suppress(*_ERRORS):
                await self._transport.close()
            self._transport = None


class BumbleLink(LinkBase):
    """One connection from the backend's device to a peripheral.

    Args:
        backend: The central.
        address: Peer address, ``AA:BB:CC:DD:EE:FF`` (random) or ``.../P`` (public).
    """

    def __init__(self, backend: BumbleBackend, address: str) -> None:
        super().__init__(address)
        self._backend = backend
        self._peer_address = _address(address)
        self._conn: Connection | None = None
        self._peer: Peer | None = None
        self._chars: dict[str, Any] = {}

    @property
    def mtu(self) -> int:
        """Negotiated ATT MTU."""
        return 23 if self._conn is None else int(self._conn.att_mtu)

    async def connect(self, timeout_s: float) -> None:
        """Connect, exchange the MTU and discover services and characteristics.

        Raises:
            LinkError: If the peer cannot be reached or discovery fails.
        """
        dev = self._backend.device
        try:
            async with self._backend.connect_lock:
                # bumble cancels a timed-out attempt and then waits for the controller to
                # confirm; a controller that never does (bumble's virtual one) would hang
                # here, so bound the whole attempt too
                conn = await asyncio.wait_for(
                    dev.connect(self._peer_address, timeout=timeout_s), timeout_s + 2.0)
            self._conn = conn
            self._callbacks.clear()
            self._connected = True
            conn.on(conn.EVENT_DISCONNECTION, self._dropped)
            peer = Peer(conn)
            self._peer = peer
            async with asyncio.timeout(timeout_s):
                await peer.request_mtu(_ATT_MTU_WANTED)
                await peer.discover_services()
                for s in peer.services:
                    await s.discover_characteristics()
            self._chars = {_uuid128(c.uuid): c for s in peer.services
                           for c in s.characteristics}
        except _ERRORS as exc:
            await self.disconnect()
            raise LinkError(f"cannot connect to {self._address}: "
                            f"{exc or type(exc).__name__}") from exc

    async def disconnect(self) -> None:
        """Close the link; no error if it is already down."""
        conn, self._conn = self._conn, None
        if conn is not None and self._connected:
            self._connected = False
            with contextlib.suppress(*_ERRORS):
                await asyncio.wait_for(conn.disconnect(), 5.0)
        self._connected = False

    def has_characteristic(self, char_uuid: str) -> bool:
        """Whether the peer offers this characteristic."""
        return normalize_uuid(char_uuid) in self._chars

    def _char(self, char_uuid: str) -> Any:
        if not self._connected or self._peer is None:
            raise LinkError(f"{self._address}: not connected")
        c = self._chars.get(normalize_uuid(char_uuid))
        if c is None:
            raise LinkError(f"{self._address} has no characteristic {char_uuid}; it offers "
                            f"{sorted(self._chars)}")
        return c

    async def read(self, char_uuid: str) -> bytes:
        """Read a characteristic."""
        c = self._char(char_uuid)
        try:
            return bytes(await asyncio.wait_for(c.read_value(), 10.0))
        except _ERRORS as exc:
            raise LinkError(f"{self._address}: read {char_uuid} failed: "
                            f"{exc or type(exc).__name__}") from exc

    async def write(self, char_uuid: str, data: bytes, *, response: bool) -> None:
        """Write a characteristic."""
        c = self._char(char_uuid)
        try:
            await asyncio.wait_for(c.write_value(bytes(data), with_response=response), 10.0)
        except _ERRORS as exc:
            raise LinkError(f"{self._address}: write {char_uuid} failed: "
                            f"{exc or type(exc).__name__}") from exc

    async def start_notify(self, char_uuid: str, callback: NotifyCallback) -> None:
        """Enable notifications (or indications when that is all it offers).

        Enabling them again on the same link only replaces the callback: bumble would
        otherwise call both, and every packet would arrive twice.
        """
        c = self._char(char_uuid)
        key = normalize_uuid(char_uuid)
        subscribed = key in self._callbacks
        self._callbacks[key] = callback
        if subscribed:
            return
        callbacks = self._callbacks

        def on_value(value: bytes) -> None:  # plain def: bumble calls it on the loop
            cb = callbacks.get(key)
            if cb is not None:
                cb(key, bytes(value))

        try:
            await asyncio.wait_for(c.subscribe(on_value, prefer_notify=True), 10.0)
        except _ERRORS as exc:
            self._callbacks.pop(key, None)
            raise LinkError(f"{self._address}: subscribe to {char_uuid} failed: "
                            f"{exc or type(exc).__name__}") from exc

    async def stop_notify(self, char_uuid: str) -> None:
        """Disable notifications."""
        c = self._char(char_uuid)
        self._callbacks.pop(normalize_uuid(char_uuid), None)
        try:
            await asyncio.wait_for(c.unsubscribe(), 10.0)
        except _ERRORS as exc:
            raise LinkError(f"{self._address}: unsubscribe from {char_uuid} failed: "
                            f"{exc or type(exc).__name__}") from exc

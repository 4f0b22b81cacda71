"""Sensors: BLE links, device protocols (decode and encode), clock alignment, replay."""

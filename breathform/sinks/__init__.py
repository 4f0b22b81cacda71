"""Live outputs: console (later MQTT, InfluxDB, LSL)."""

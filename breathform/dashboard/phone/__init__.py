"""The phone page: static HTML/JS served from the hub, MQTT over WebSockets."""

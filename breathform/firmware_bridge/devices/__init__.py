"""Device protocols: pure encode and decode, no I/O."""

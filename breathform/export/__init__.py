"""Research export of stored sessions: CSV, Parquet, EDF+, BIDS-motion.

``export_session(path, fmt, out)`` replays the raw packets through the sensor decoders
(native-rate samples with device and session time), adds the 1 Hz metrics, the alerts and
the metadata, and writes them in one of :data:`FORMATS`. Exports are pseudonymous unless
``identify=True`` (see :mod:`breathform.export.privacy`).
"""

from breathform.export.writer import FORMATS, ExportResult, export_session, write_data

__all__ = ["FORMATS", "ExportResult", "export_session", "write_data"]

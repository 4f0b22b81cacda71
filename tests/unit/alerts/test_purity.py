"""breathform.alerts is pure: it imports no I/O, asyncio or transport libraries."""

from __future__ import annotations

import subprocess
import sys
import textwrap

BLOCKED = ("asyncio", "bleak", "bumble", "aiomqtt", "paho", "influxdb_client", "sqlite3",
           "rich")


def test_alerts_import_with_io_packages_blocked() -> None:
    code = textwrap.dedent(f"""
        import sys
        blocked = {BLOCKED!r}
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in blocked:
                    raise ImportError("blocked: " + name)
                return None
        for name in list(sys.modules):
            if name.split(".")[0] in blocked:
                del sys.modules[name]
        sys.meta_path.insert(0, Block())
        import breathform.alerts
        import breathform.alerts.engine
        import breathform.alerts.cues
        bad = sorted(n for n in sys.modules if n.split(".")[0] in blocked)
        assert not bad, bad
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       check=False)
    assert r.returncode == 0, r.stderr

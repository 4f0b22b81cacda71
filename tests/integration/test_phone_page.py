"""The phone page in headless Chromium, fed by `breathform demo --mqtt ... --phone`."""

from __future__ import annotations

import shutil
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest
from mosquitto_broker import Broker, free_port, mosquitto_fixture  # noqa: F401

from breathform.cli import main
from breathform.dashboard.phone.server import page_file
from breathform.store import SessionReader, list_sessions

pytestmark = pytest.mark.integration

# Runs before the page's own scripts: record vibrate() and speechSynthesis.speak() calls.
WRAP = """
window.__calls = [];
const _vib = navigator.vibrate ? navigator.vibrate.bind(navigator) : null;
Object.defineProperty(navigator, "vibrate", { configurable: true, value: function (p) {
  window.__calls.push(["vibrate", JSON.stringify(p)]);
  try { return _vib ? _vib(p) : true; } catch (e) { return true; }
}});
const _speak = speechSynthesis.speak.bind(speechSynthesis);
speechSynthesis.speak = function (u) {
  window.__calls.push(["speak", u.text]);
  try { _speak(u); } catch (e) { /* no voices in headless */ }
};
"""


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    exe = shutil.which("chromium") or "/usr/bin/chromium"
    drv = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    opts = webdriver.ChromeOptions()
    opts.binary_location = exe
    for flag in ("--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--no-first-run",
                 "--disable-dev-shm-usage"):
        opts.add_argument(flag)
    d = webdriver.Chrome(service=Service(executable_path=drv), options=opts)
    d.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WRAP})
    try:
        yield d
    finally:
        d.quit()


def _wait(pred, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.05)  # polling the browser with a deadline


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def test_page_files_are_served_and_nothing_else(tmp_path):
    # the files exist in the package and the page references only them
    html = page_file("index.html").decode()
    assert 'src="mqttws.js"' in html and 'src="app.js"' in html
    assert "http" not in html.replace("http-equiv", "")  # nothing from a CDN


def test_demo_alert_reaches_the_phone_page(mosquitto: Broker, browser, tmp_path):
    from selenium.webdriver.common.by import By

    cfg = tmp_path / "c.toml"
    cfg.write_text('[runner]\nid = "phone-01"\n[alerts]\ncooldown_s = 20.0\n')
    port = free_port()
    ws = f"ws://127.0.0.1:{mosquitto.ws_port}/mqtt"
    rc: list[int] = []
    # 12 simulated minutes at 30x: the first climb's alert comes ~12 s after the start
    t = threading.Thread(target=lambda: rc.append(main(
        ["--dir", str(tmp_path), "-c", str(cfg), "demo", "--minutes", "12", "--quiet",
         "--speed", "30", "--mqtt", mosquitto.url, "--phone", "--phone-port", str(port),
         "--phone-bind", "127.0.0.1", "--phone-ws", ws])), daemon=True)
    t.start()
    try:
        _wait(lambda: _port_open(port), 30, "the phone page server")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/config.json") as r:
            assert b'"runner_id": "phone-01"' in r.read()
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/../../etc/passwd")
        assert e.value.code == 404
        browser.get(f"http://127.0.0.1:{port}/")
        browser.find_element(By.ID, "start").click()  # the user's tap: unlocks vibrate/speech
        _wait(lambda: browser.find_element(By.ID, "conn").text == "broker connected", 20,
              "the page to connect to the broker over WebSockets")
        _wait(lambda: browser.find_element(By.ID, "rate_bpm").text not in ("", "—"), 30,
              "live metrics on the page")
        # the per-stride ranges: the Movesense (gyro) gives pelvic drop and rotation; the
        # Polar H10 has no gyroscope, so trunk twist stays hidden
        _wait(lambda: browser.find_element(By.ID, "pelvic_drop_range_deg").text
              not in ("", "—"), 30, "the pelvic drop range on the page")
        assert browser.find_element(By.ID, "ranges").is_displayed()
        for name in ("pelvic_drop_range_deg", "pelvic_rotation_range_deg"):
            v = float(browser.find_element(By.ID, name).text)
            assert 2.0 < v < 30.0, (name, v)
        assert not browser.find_element(By.ID, "r_trunk_twist_range_deg").is_displayed()
        _wait(lambda: browser.find_element(By.ID, "cue").text != "No alert", 60,
              "an alert on the page")
        cue = browser.find_element(By.ID, "cue").text
        calls = _wait(lambda: [c for c in browser.execute_script("return window.__calls")
                               if c[0] == "vibrate" or c[1]], 10, "vibrate and speak")
        assert ["speak", cue] in calls
        sev = int(browser.find_element(By.ID, "alert").get_attribute("class")[-1])
        patterns = {1: "[200]", 2: "[250,120,250]", 3: "[500,150,500,150,500]"}
        assert ["vibrate", patterns[sev]] in calls
    finally:
        t.join(120)
    assert rc == [0]
    [s] = list_sessions(tmp_path)
    with SessionReader(s.path) as r:
        assert cue in {a.cue for a in r.alerts()}

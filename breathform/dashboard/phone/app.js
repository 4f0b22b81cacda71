// The breathform phone page: live numbers and alerts from the hub's MQTT broker.
// Settings come from config.json (served by `breathform ... --phone`); the query string
// may override them: ?ws=ws://host:9001/mqtt&prefix=breathform&runner=runner-01
"use strict";

const VIBRATION = { 1: [200], 2: [250, 120, 250], 3: [500, 150, 500, 150, 500] };
const FIELDS = { rate_bpm: 1, pelvic_tilt_deg: 1, trunk_lean_deg: 1, cadence_spm: 0,
                 depth_rel: 2, hr_bpm: 0 };
// Per-stride ranges: shown only when the sensors give them (no gyroscope, e.g. a Polar
// H10 for trunk twist: null, and that number stays hidden).
const RANGES = ["pelvic_drop_range_deg", "pelvic_rotation_range_deg", "trunk_twist_range_deg"];
const rangeSeen = new Set();
const seen = new Set();
let armed = false;
let wakeLock = null;
const $ = (id) => document.getElementById(id);

function fmt(x, nd) { return (x === null || x === undefined) ? "—" : Number(x).toFixed(nd); }

async function keepScreenOn() {
  try {
    if ("wakeLock" in navigator && document.visibilityState === "visible") {
      wakeLock = await navigator.wakeLock.request("screen");
    }
  } catch (e) { /* not allowed here (e.g. no HTTPS): the page still works */ }
}

function arm() {
  armed = true;
  $("start").classList.add("on");
  $("start").textContent = "Vibration and voice on";
  keepScreenOn();
  // speak once quietly so the browser unlocks speech for later alerts
  try { speechSynthesis.speak(Object.assign(new SpeechSynthesisUtterance(""), { volume: 0 })); }
  catch (e) { /* no speech on this browser */ }
}

function showMetrics(m) {
  for (const [k, nd] of Object.entries(FIELDS)) $(k).textContent = fmt(m[k], nd);
  for (const k of RANGES) {
    const has = m[k] !== null && m[k] !== undefined;
    // once a range has been seen, keep its place (a gap shows "—" instead of a jump)
    if (has) rangeSeen.add(k);
    $("r_" + k).hidden = !rangeSeen.has(k);
    $(k).textContent = fmt(m[k], 1);
  }
  $("ranges").hidden = rangeSeen.size === 0;
}

function showAlert(a) {
  if (seen.has(a.id)) return; // delivery is at least once
  seen.add(a.id);
  if (a.expires_utc_ns && a.expires_utc_ns / 1e6 < Date.now()) return; // stale
  const box = $("alert");
  box.className = "sev" + a.severity;
  $("cue").textContent = a.cue;
  $("causes").textContent = a.causes.map((c) =>
    `${c.name.replace(/_/g, " ")} ${fmt(c.value, 1)} ${c.unit} (base ${fmt(c.baseline, 1)})`)
    .join(" · ") + (a.climb ? " · climbing" : "");
  const mm = Math.floor(a.t_s / 60), ss = Math.floor(a.t_s % 60);
  const row = document.createElement("div");
  row.textContent = `${String(mm).padStart(2, "0")}:${String(ss).padStart(2, "0")} ` +
                    `sev ${a.severity}: ${a.cue}`;
  $("log").prepend(row);
  if (!armed) return;
  try { navigator.vibrate(VIBRATION[a.severity] || [200]); } catch (e) { /* no vibration */ }
  try {
    speechSynthesis.cancel();
    speechSynthesis.speak(new SpeechSynthesisUtterance(a.cue));
  } catch (e) { /* no speech */ }
}

function setConn(state, detail) {
  const el = $("conn");
  el.textContent = state === "connected" ? "broker connected" : `broker ${state}`;
  el.title = detail;
  el.className = state === "connected" ? "ok" : (state === "connecting" ? "warn" : "bad");
}

async function main() {
  let cfg = {};
  try { cfg = await (await fetch("config.json", { cache: "no-store" })).json(); }
  catch (e) { /* opened without the hub: query string only */ }
  const q = new URLSearchParams(location.search);
  const ws = q.get("ws") || cfg.ws_url ||
             `ws://${location.hostname || "127.0.0.1"}:${cfg.ws_port || 9001}/mqtt`;
  const base = `${q.get("prefix") || cfg.topic_prefix || "breathform"}/` +
               `${q.get("runner") || cfg.runner_id || "runner-01"}`;
  $("start").addEventListener("click", arm);
  document.addEventListener("visibilitychange", () => { if (armed) keepScreenOn(); });
  window.breathform = new MqttWs(ws, {
    subscriptions: [[`${base}/alerts`, 1], [`${base}/metrics`, 0], [`${base}/status`, 1]],
    onState: setConn,
    onMessage: (topic, payload) => {
      if (topic.endsWith("/status")) {
        $("hub").textContent = `hub: ${payload}`;
        $("hub").className = payload === "online" ? "ok" : "bad";
        return;
      }
      let msg;
      try { msg = JSON.parse(payload); } catch (e) { return; }
      if (topic.endsWith("/metrics")) showMetrics(msg);
      else if (topic.endsWith("/alerts")) showAlert(msg);
    },
  });
}

main();

// A tiny MQTT 3.1.1 client over WebSockets, enough for the breathform phone page:
// CONNECT, SUBSCRIBE (QoS 0/1), receive PUBLISH (QoS 0/1, with PUBACK), PINGREQ, and
// reconnection with backoff. No build step, no dependency. (c) breathform, MIT.
"use strict";

class MqttWs {
  /**
   * @param {string} url  ws:// or wss:// URL of the broker's WebSocket listener
   * @param {object} opts {clientId, keepaliveS, subscriptions: [[topic, qos]], onMessage,
   *                       onState(state, detail), username, password}
   */
  constructor(url, opts) {
    this.url = url;
    this.opts = Object.assign({ keepaliveS: 30, subscriptions: [] }, opts);
    this.clientId = this.opts.clientId ||
      ("bf-phone-" + Math.random().toString(16).slice(2, 10));
    this.backoffMs = 500;
    this.nextId = 1;
    this.buf = new Uint8Array(0);
    this.closed = false;
    this.connect();
  }

  state(s, detail) { if (this.opts.onState) this.opts.onState(s, detail || ""); }

  connect() {
    if (this.closed) return;
    this.state("connecting", this.url);
    let ws;
    try {
      ws = new WebSocket(this.url, ["mqtt"]);
    } catch (e) {
      this.state("error", String(e));
      this.retry();
      return;
    }
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onopen = () => this.send(this.connectPacket());
    ws.onmessage = (ev) => this.feed(new Uint8Array(ev.data));
    ws.onclose = () => { clearInterval(this.pinger); this.state("disconnected"); this.retry(); };
    ws.onerror = () => { /* onclose follows */ };
  }

  retry() {
    if (this.closed) return;
    const wait = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, 10000);
    setTimeout(() => this.connect(), wait);
  }

  close() { this.closed = true; if (this.ws) this.ws.close(); }

  send(bytes) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(bytes);
  }

  static utf8(s) { return new TextEncoder().encode(s); }

  static str(s) {
    const b = MqttWs.utf8(s);
    const out = new Uint8Array(2 + b.length);
    out[0] = b.length >> 8; out[1] = b.length & 255; out.set(b, 2);
    return out;
  }

  static packet(first, ...parts) {
    let n = 0;
    for (const p of parts) n += p.length;
    const len = [];
    let x = n;
    do { let d = x % 128; x = Math.floor(x / 128); if (x > 0) d |= 128; len.push(d); } while (x > 0);
    const out = new Uint8Array(1 + len.length + n);
    out[0] = first; out.set(len, 1);
    let o = 1 + len.length;
    for (const p of parts) { out.set(p, o); o += p.length; }
    return out;
  }

  connectPacket() {
    let flags = 0x02; // clean session: the page shows live data only
    const payload = [MqttWs.str(this.clientId)];
    if (this.opts.username) { flags |= 0x80; payload.push(MqttWs.str(this.opts.username)); }
    if (this.opts.password) { flags |= 0x40; payload.push(MqttWs.str(this.opts.password)); }
    const ka = this.opts.keepaliveS;
    const vh = new Uint8Array([0, 4, 77, 81, 84, 84, 4, flags, ka >> 8, ka & 255]);
    return MqttWs.packet(0x10, vh, ...payload);
  }

  feed(chunk) {
    const b = new Uint8Array(this.buf.length + chunk.length);
    b.set(this.buf); b.set(chunk, this.buf.length);
    let o = 0;
    while (true) {
      if (b.length - o < 2) break;
      let mult = 1, len = 0, i = o + 1, d;
      do {
        if (i >= b.length) { d = -1; break; }
        d = b[i++]; len += (d & 127) * mult; mult *= 128;
      } while (d & 128);
      if (d === -1 || i + len > b.length) break;
      this.handle(b[o], b.subarray(i, i + len));
      o = i + len;
    }
    this.buf = b.slice(o);
  }

  handle(first, body) {
    const type = first >> 4;
    if (type === 2) { // CONNACK
      if (body[1] !== 0) {
        this.state("refused", "broker refused the connection, code " + body[1]);
        return;
      }
      this.backoffMs = 500;
      this.state("connected", this.url);
      for (const [topic, qos] of this.opts.subscriptions) {
        const id = this.nextId++ & 0xffff || 1;
        this.send(MqttWs.packet(0x82, new Uint8Array([id >> 8, id & 255]),
                                MqttWs.str(topic), new Uint8Array([qos])));
      }
      clearInterval(this.pinger);
      this.pinger = setInterval(() => this.send(new Uint8Array([0xc0, 0])),
                                this.opts.keepaliveS * 500);
    } else if (type === 3) { // PUBLISH
      const qos = (first >> 1) & 3;
      const tlen = (body[0] << 8) | body[1];
      const topic = new TextDecoder().decode(body.subarray(2, 2 + tlen));
      let o = 2 + tlen;
      if (qos > 0) {
        const id = body.subarray(o, o + 2);
        o += 2;
        this.send(MqttWs.packet(0x40, id)); // PUBACK (QoS 1)
      }
      const payload = new TextDecoder().decode(body.subarray(o));
      if (this.opts.onMessage) this.opts.onMessage(topic, payload, { qos, retain: !!(first & 1) });
    }
    // SUBACK (9), PINGRESP (13): nothing to do
  }
}

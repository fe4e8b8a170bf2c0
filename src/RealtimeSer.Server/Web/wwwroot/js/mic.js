// The microphone page: capture (getUserMedia + AudioWorklet, 20 ms PCM16 frames) → WebSocket /v1/stream →
// events drawn as they come; and recordings dropped on the page → POST /v1/analyze → the same timeline.
import { apiFetch, apiKey, ensureKey, errorText, labelColor, pct, clock, channelName } from "./common.js";
import { Timeline, finalItem, renderLegend } from "./timeline.js";

const $ = (id) => document.getElementById(id);
const FRAME_SECONDS = 0.02;

let labels = [];
const timeline = new Timeline($("timeline"), { span: 60 });
let session = null;

function status(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

async function loadModel() {
  const r = await apiFetch("/v1/models");
  if (!r.ok) throw new Error(await errorText(r));
  const { models } = await r.json();
  const model = models.find((m) => m.is_default) ?? models[0];
  setLabels(model.labels);
  document.body.dataset.model = model.id;
}

function setLabels(list) {
  labels = list;
  timeline.reset({ labels });
  const bars = $("bars");
  bars.replaceChildren();
  for (const label of labels) {
    const row = document.createElement("div");
    row.className = "bar-row";
    row.dataset.label = label;
    const name = document.createElement("span");
    name.className = "bar-name";
    name.textContent = label;
    const track = document.createElement("span");
    track.className = "bar-track";
    const fill = document.createElement("span");
    fill.className = "bar-fill";
    fill.style.background = labelColor(label, labels);
    track.append(fill);
    const value = document.createElement("span");
    value.className = "bar-value";
    value.textContent = "–";
    row.setAttribute("role", "meter");
    row.setAttribute("aria-label", label);
    row.setAttribute("aria-valuemin", "0");
    row.setAttribute("aria-valuemax", "100");
    row.setAttribute("aria-valuenow", "0");
    row.append(name, track, value);
    bars.append(row);
  }
  renderLegend($("legend"), labels, { interims: true });
}

function showScores(e) {
  lastResultEnd = e.end_s;
  markCurrent();
  $("current-label").textContent = e.label;
  $("current-label").style.color = labelColor(e.label, labels);
  for (const row of $("bars").children) {
    const p = e.scores[row.dataset.label] ?? 0;
    row.querySelector(".bar-fill").style.width = `${Math.round(p * 100)}%`;
    row.querySelector(".bar-value").textContent = pct(p);
    row.setAttribute("aria-valuenow", String(Math.round(p * 100)));
    row.classList.toggle("top", row.dataset.label === e.label);
  }
  // Other models on the same windows (arousal beside emotion): their label and its score, one line each.
  const others = Object.entries(e.models ?? {}).slice(1);
  const line = $("other-models");
  line.hidden = others.length === 0;
  line.replaceChildren(
    ...others.map(([id, m]) => {
      const span = document.createElement("span");
      span.dataset.model = id;
      span.dataset.label = m.label;
      span.append(`${id}: `);
      const strong = document.createElement("strong");
      strong.textContent = m.label;
      span.append(strong, ` ${pct(m.scores[m.label] ?? 0)} `);
      return span;
    }),
  );
}

let speaking = false;
let lastResultEnd = null;

function setSpeech(on) {
  speaking = on;
  const el = $("speech");
  el.dataset.state = on ? "on" : "off";
  el.querySelector("strong").textContent = on ? "on" : "off";
  markCurrent();
}

/** With speech off, the emotion shown is the last result, not what is heard now: say so, and dim it. */
function markCurrent() {
  const stale = !speaking && lastResultEnd != null;
  $("now").dataset.stale = String(stale);
  $("current-note").textContent = stale ? `last result, up to ${lastResultEnd.toFixed(1)} s; no speech now` : "";
}

function clearCurrent() {
  lastResultEnd = null;
  $("current-label").textContent = "–";
  $("current-label").style.color = "";
  for (const row of $("bars").children) {
    row.querySelector(".bar-fill").style.width = "0";
    row.querySelector(".bar-value").textContent = "–";
    row.setAttribute("aria-valuenow", "0");
    row.classList.remove("top");
  }
  markCurrent();
}

async function listDevices() {
  if (!navigator.mediaDevices?.enumerateDevices) return;
  const select = $("device");
  const chosen = select.value;
  const inputs = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === "audioinput");
  select.replaceChildren(new Option("Default microphone", ""));
  inputs.forEach((d, i) => {
    if (d.deviceId && d.deviceId !== "default") select.append(new Option(d.label || `Microphone ${i + 1}`, d.deviceId));
  });
  select.value = [...select.options].some((o) => o.value === chosen) ? chosen : "";
}

/** One recording session: microphone → worklet → WebSocket, and the events back. */
class Session {
  constructor() {
    this.samplesSent = 0;
    this.captureLog = [];
    this.latencies = [];
    this.serverLatencies = [];
    this.speechSegments = 0;
    this.finals = 0;
    this.ready = false;
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
  }

  async start(deviceId) {
    if (!navigator.mediaDevices?.getUserMedia) {
      throw new Error("This browser offers no microphone here (a page must be served from localhost or over HTTPS).");
    }
    this.media = await navigator.mediaDevices.getUserMedia({
      audio: {
        deviceId: deviceId ? { exact: deviceId } : undefined,
        channelCount: 1,
        echoCancellation: false,
        noiseSuppression: false,
        autoGainControl: false,
      },
    });
    this.ctx = new AudioContext({ sampleRate: 16000 });
    this.rate = this.ctx.sampleRate;
    await this.ctx.audioWorklet.addModule("/static/js/capture-worklet.js");
    this.source = this.ctx.createMediaStreamSource(this.media);
    this.node = new AudioWorkletNode(this.ctx, "pcm-capture", {
      processorOptions: { frameSamples: Math.round(this.rate * FRAME_SECONDS) },
    });
    // A silent sink keeps the graph pulled without playing the microphone back.
    this.mute = new GainNode(this.ctx, { gain: 0 });
    this.source.connect(this.node).connect(this.mute).connect(this.ctx.destination);

    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.ws = new WebSocket(`${scheme}://${location.host}/v1/stream`);
    this.ws.binaryType = "arraybuffer";
    this.ws.onopen = () =>
      this.ws.send(
        JSON.stringify({
          config: { encoding: "LINEAR16", sampleRateHertz: this.rate, audioChannelCount: 1, interimResults: true },
          api_key: apiKey() ?? undefined,
        }),
      );
    this.ws.onmessage = (m) => this.onEvent(JSON.parse(m.data));
    this.ws.onclose = (e) => this.onClose(e);
    this.node.port.onmessage = (m) => this.onFrame(m.data);
  }

  onFrame(buffer) {
    if (!this.ready || this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(buffer);
    this.samplesSent += buffer.byteLength / 2;
    const now = performance.now();
    this.captureLog.push({ end: this.samplesSent, t: now });
    if (this.captureLog.length > 6000) this.captureLog.splice(0, 1000);
  }

  /** When the sample at stream time `s` was captured (to within one frame), or null. */
  capturedAt(s) {
    const n = s * this.rate;
    const log = this.captureLog;
    let lo = 0;
    let hi = log.length - 1;
    if (hi < 0 || log[hi].end < n - 1) return null;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (log[mid].end >= n - 1) hi = mid;
      else lo = mid + 1;
    }
    return log[lo].t;
  }

  get streamTime() {
    return this.samplesSent / (this.rate || 16000);
  }

  onEvent(e) {
    switch (e.event) {
      case "ready":
        this.ready = true;
        document.body.dataset.stream = e.stream;
        if (e.labels) setLabels(e.labels);
        status(`Streaming to ${e.model} as ${e.stream}. Speak!`);
        return;
      case "speech_start":
        setSpeech(true);
        this.speechSegments++;
        timeline.speechStart(e.channel, e.start_s);
        updateCounts(this);
        return;
      case "speech_end":
        setSpeech(false);
        timeline.speechEnd(e.channel, e.start_s, e.time_s);
        return;
      case "stats":
      case "done":
        return;
      case "error":
        status(`${e.code}: ${e.message}`, true);
        if (e.code === "UNAUTHENTICATED") sessionStorage.removeItem("realtimeser.apiKey");
        return;
    }
    if (e.label === undefined) return;
    const captured = this.capturedAt(e.end_s);
    if (!e.final || !this.sawInterim) {
      if (captured != null) this.latencies.push(performance.now() - captured);
      if (e.latency_ms) this.serverLatencies.push(e.latency_ms.end_to_end);
      if (this.latencies.length > 1000) this.latencies.shift();
      if (this.serverLatencies.length > 1000) this.serverLatencies.shift();
    }
    if (e.final) {
      this.finals++;
      timeline.addFinal(e);
      const list = $("finals");
      list.prepend(finalItem(e, labels));
      while (list.children.length > 200) list.lastChild.remove();
      updateCounts(this);
    } else {
      this.sawInterim = true;
      timeline.addInterim(e);
    }
    showScores(e);
    showLatency(this);
  }

  onClose(e) {
    this.ready = false;
    this.stopCapture();
    if (e.code !== 1000) {
      if (!$("status").classList.contains("error")) {
        status(`Connection closed (${e.code}${e.reason ? `: ${e.reason}` : ""}). Press Start to try again.`, true);
      }
    } else {
      status(`Stopped after ${clock(this.streamTime)}: ${this.finals} final segments.`);
    }
    setSpeech(false);
    this.resolveClosed();
    sessionEnded();
  }

  stopCapture() {
    if (this.node) this.node.port.onmessage = null;
    this.source?.disconnect();
    this.media?.getTracks().forEach((t) => t.stop());
    if (this.ctx && this.ctx.state !== "closed") this.ctx.close();
  }

  /** Stops capturing, asks the server to finish the last segment, waits (bounded) for it to close. */
  async stop() {
    this.stopCapture();
    if (this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify({ event: "end" }));
      status("Finishing the last segment…");
      const timeout = new Promise((r) => setTimeout(r, 15000));
      await Promise.race([this.closed, timeout]);
      if (this.ws.readyState !== WebSocket.CLOSED) this.ws.close(1000, "stopped");
    }
  }
}

function percentile(values, p) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function showLatency(s) {
  const fmt = (v) => (v == null ? "–" : `${Math.round(v)} ms`);
  $("lat-p50").textContent = fmt(percentile(s.latencies, 50));
  $("lat-p95").textContent = fmt(percentile(s.latencies, 95));
  $("lat-server").textContent = fmt(percentile(s.serverLatencies, 50));
  $("lat-n").textContent = String(s.latencies.length);
}

function updateCounts(s) {
  $("counts").textContent = `${s.speechSegments} speech segments, ${s.finals} finals`;
  $("counts").dataset.speech = s.speechSegments;
  $("counts").dataset.finals = s.finals;
}

function sessionEnded() {
  session = null;
  $("start").disabled = false;
  $("stop").disabled = true;
  $("device").disabled = false;
}

async function start() {
  $("start").disabled = true;
  $("device").disabled = true;
  try {
    await ensureKey();
    $("finals").replaceChildren();
    timeline.reset({ labels });
    clearCurrent();
    shownTime = 0;
    session = new Session();
    status("Asking for the microphone…");
    await session.start($("device").value);
    $("stop").disabled = false;
    $("stop").focus();
    await listDevices();
  } catch (err) {
    status(err.message ?? String(err), true);
    session?.stopCapture();
    sessionEnded();
  }
}

async function stop() {
  $("stop").disabled = true;
  await session?.stop();
  $("start").focus();
}

let shownTime = 0;

// A timer rather than requestAnimationFrame: a tab in the background keeps its timeline current.
function tick() {
  if (session) shownTime = session.streamTime;
  timeline.prune(shownTime);
  timeline.draw(shownTime);
}

// --- recordings dropped on the page -------------------------------------------------------------------

async function analyse(file) {
  const out = $("file-status");
  out.classList.remove("error");
  out.textContent = `Analysing ${file.name} (${(file.size / 1e6).toFixed(1)} MB)…`;
  try {
    const r = await apiFetch(`/v1/analyze?name=${encodeURIComponent(file.name)}`, {
      method: "POST",
      body: file,
      headers: { "Content-Type": "application/octet-stream" },
    });
    if (!r.ok) throw new Error(await errorText(r));
    showFile(await r.json());
  } catch (err) {
    out.textContent = `Could not analyse ${file.name}: ${err.message ?? err}`;
    out.classList.add("error");
  }
}

function showFile(result) {
  const names = [];
  for (let c = 0; c < result.channels; c++) {
    const e = result.events.find((x) => x.channel === c);
    names.push(e?.channel_name || (result.channels === 2 ? ["left", "right"][c] : `channel ${c + 1}`));
  }
  const tl = new Timeline($("file-timeline"), { labels: result.labels, channels: result.channels, names, span: null });
  renderLegend($("file-legend"), result.labels, { interims: false });
  for (const s of result.speech) tl.speechEnd(s.channel, s.start_s, s.end_s);
  for (const e of result.events) tl.addFinal(e);
  $("file-result").hidden = false;
  $("file-result").dataset.events = result.events.length;
  $("file-result").dataset.channels = result.channels;
  tl.draw(result.duration_s);

  const summary = $("file-summary");
  summary.replaceChildren();
  for (let c = 0; c < result.channels; c++) {
    const finals = result.events.filter((e) => e.channel === c);
    const total = finals.reduce((s, e) => s + (e.end_s - e.start_s), 0);
    const byLabel = {};
    for (const e of finals) byLabel[e.label] = (byLabel[e.label] ?? 0) + (e.end_s - e.start_s);
    const p = document.createElement("p");
    p.dataset.channel = c;
    p.dataset.segments = finals.length;
    const shares = Object.entries(byLabel)
      .sort((a, b) => b[1] - a[1])
      .map(([l, s]) => `${l} ${pct(total ? s / total : 0)}`)
      .join(", ");
    p.textContent = `${names[c]}: ${finals.length} segments, ${total.toFixed(1)} s of speech${shares ? ` — ${shares}` : ""}`;
    summary.append(p);
  }
  const list = $("file-finals");
  list.replaceChildren(...result.events.map((e) => finalItem({ ...e, channel_name: e.channel_name ?? names[e.channel] }, result.labels)));
  $("file-status").textContent =
    `${result.file}: ${clock(result.duration_s)}, ${result.channels} channel(s), ${result.events.length} final segments` +
    (result.windows_dropped ? ` (${result.windows_dropped} windows dropped under load)` : "") +
    ` in ${result.elapsed_s.toFixed(1)} s.`;
}

function setUpDrop() {
  const drop = $("drop");
  const input = $("file");
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    const file = e.dataTransfer?.files?.[0];
    if (file) analyse(file);
  });
  drop.addEventListener("click", () => input.click());
  drop.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      input.click();
    }
  });
  input.addEventListener("change", () => {
    if (input.files[0]) analyse(input.files[0]);
    input.value = "";
  });
}

$("start").addEventListener("click", start);
$("stop").addEventListener("click", stop);
navigator.mediaDevices?.addEventListener?.("devicechange", listDevices);
setUpDrop();
setInterval(tick, 250);
listDevices().catch((err) => status(`Cannot list devices: ${err.message}`, true));
loadModel()
  .then(() => (document.body.dataset.ready = "true"))
  .catch((err) => status(`Cannot load the model list: ${err.message ?? err}`, true));

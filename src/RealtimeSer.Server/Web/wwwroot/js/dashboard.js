// The dashboard: reads the server's push feed (/v1/streams/live, Server-Sent Events read through fetch so
// the API key travels in the authorization header) and shows every live stream, most negative first.
import { apiFetch, errorText, labelColor, pct, clock } from "./common.js";

const $ = (id) => document.getElementById(id);
const THRESHOLD = "realtimeser.alertThreshold";
let last = null;
let threshold = null;

function status(text, isError = false) {
  $("feed-status").textContent = text;
  $("feed-status").classList.toggle("error", isError);
}

/** The server's rule with this page's threshold (the server's own verdict is `alert`, for its default). */
function alertOf(stream, rule) {
  return stream.channels.some((c) => c.recent_speech_s >= rule.min_speech_s && c.recent_alert_share > threshold);
}

function cell(row, text, className) {
  const td = document.createElement("td");
  if (className) td.className = className;
  if (text instanceof Node) td.append(text);
  else td.textContent = text;
  row.append(td);
  return td;
}

function labelChip(label) {
  const span = document.createElement("span");
  span.className = "chip";
  if (!label) {
    span.textContent = "–";
    return span;
  }
  const sw = document.createElement("span");
  sw.className = "swatch";
  sw.style.background = labelColor(label);
  sw.setAttribute("aria-hidden", "true");
  span.append(sw, document.createTextNode(label));
  return span;
}

function share(value) {
  const wrap = document.createElement("span");
  wrap.className = "share";
  const track = document.createElement("span");
  track.className = "share-track";
  track.setAttribute("aria-hidden", "true");
  const fill = document.createElement("span");
  fill.className = "share-fill";
  fill.style.width = `${(Math.min(1, Math.max(0, value)) * 100).toFixed(1)}%`;
  track.append(fill);
  wrap.append(track, document.createTextNode(pct(value)));
  return wrap;
}

// Labels of the server's models: the alert rule lists only the spellings they use ("angry", not also "anger").
let modelLabels = null;

async function loadModelLabels() {
  try {
    const r = await apiFetch("/v1/models");
    if (!r.ok) return;
    const { models } = await r.json();
    modelLabels = new Set(models.flatMap((m) => m.labels ?? []));
    if (last) render(last);
  } catch {
    // The rule then shows every configured label; nothing else depends on this.
  }
}

function ruleLabels(configured) {
  const used = modelLabels ? configured.filter((l) => modelLabels.has(l)) : [];
  return used.length ? used : configured;
}

function render(snapshot) {
  last = snapshot;
  if (threshold == null) {
    const saved = localStorage.getItem(THRESHOLD);
    threshold = saved != null ? Number(saved) : snapshot.alert.share;
    $("threshold").value = Math.round(threshold * 100);
  }
  const shownLabels = ruleLabels(snapshot.alert.labels);
  $("alert-labels").textContent = shownLabels.length ? shownLabels.join(" / ") : "negative labels";
  $("alert-window").textContent = Math.round(snapshot.alert.window_s);
  const streams = snapshot.streams
    .map((s) => ({ ...s, alertNow: alertOf(s, snapshot.alert) }))
    .sort((a, b) => b.alertNow - a.alertNow || b.recent_negative_share - a.recent_negative_share);
  const body = document.querySelector("#streams tbody");
  const rows = [];
  for (const s of streams) {
    s.channels.forEach((c, i) => {
      const tr = document.createElement("tr");
      tr.dataset.stream = s.id;
      tr.dataset.source = s.source;
      if (s.alertNow) tr.classList.add("alert");
      if (i === 0) {
        const id = document.createElement("span");
        const strong = document.createElement("strong");
        strong.textContent = s.id;
        const small = document.createElement("small");
        small.textContent = ` ${s.source} · ${s.model}`;
        id.append(strong, small);
        cell(tr, id).rowSpan = s.channels.length;
        cell(tr, clock(s.duration_s)).rowSpan = s.channels.length;
      }
      const name = document.createElement("span");
      name.textContent = c.name || `channel ${c.channel + 1}`;
      if (c.in_speech) {
        const speaking = document.createElement("small");
        speaking.className = "speaking";
        speaking.textContent = " speaking";
        name.append(speaking);
      }
      cell(tr, name).dataset.channel = c.channel;
      cell(tr, labelChip(c.label)).dataset.label = c.label ?? "";
      cell(tr, share(c.negative_share));
      cell(tr, share(c.recent_negative_share));
      cell(tr, share(c.recent_alert_share));
      if (i === 0) {
        const lf = s.last_final;
        cell(
          tr,
          lf ? `${lf.channel_name || `channel ${lf.channel + 1}`}: ${lf.label} (${lf.start_s.toFixed(1)}–${lf.end_s.toFixed(1)} s)` : "–",
          "last-final",
        ).rowSpan = s.channels.length;
        const a = cell(tr, s.alertNow ? "ALERT" : "ok", s.alertNow ? "alert-cell" : "ok-cell");
        a.rowSpan = s.channels.length;
      }
      rows.push(tr);
    });
  }
  body.replaceChildren(...rows);
  $("count").textContent = String(streams.length);
  $("empty").hidden = streams.length > 0;
  document.body.dataset.streams = streams.map((s) => s.id).join(" ");
}

async function follow() {
  let delay = 1000;
  for (;;) {
    try {
      const r = await apiFetch("/v1/streams/live", { headers: { Accept: "text/event-stream" } });
      if (!r.ok) throw new Error(await errorText(r));
      status("Live: updates pushed by the server.");
      delay = 1000;
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const message = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = message
            .split("\n")
            .filter((l) => l.startsWith("data: "))
            .map((l) => l.slice(6))
            .join("\n");
          if (data) render(JSON.parse(data));
        }
      }
      status("The server closed the feed; reconnecting…", true);
    } catch (err) {
      status(`Feed interrupted (${err.message ?? err}); retrying in ${delay / 1000} s.`, true);
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 15000);
  }
}

$("threshold").addEventListener("change", () => {
  const v = Number($("threshold").value);
  if (Number.isFinite(v) && v >= 0 && v <= 100) {
    threshold = v / 100;
    localStorage.setItem(THRESHOLD, String(threshold));
    if (last) render(last);
  }
});

loadModelLabels();
follow();

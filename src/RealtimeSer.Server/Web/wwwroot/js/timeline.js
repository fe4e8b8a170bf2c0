// A timeline on canvas, one lane per channel: speech (grey band), final segments as coloured spans with
// their label written in or beside them, interim results as a line (height = the leading label's score,
// colour = that label). Live pages show the last `span` seconds; a file shows its whole length. The canvas
// is an image for assistive technology: its aria-label is kept up to date with a text summary, and every
// final is also listed as text beside it. `renderLegend` explains every mark it draws.
import { labelColor, channelName } from "./common.js";

export class Timeline {
  constructor(canvas, { labels = [], channels = 1, names = [], span = 60 } = {}) {
    this.canvas = canvas;
    this.labels = labels;
    this.channels = channels;
    this.names = names;
    this.span = span;
    this.finals = [];
    this.interims = [];
    this.speech = [];
    this.open = new Map();
  }

  reset({ labels, channels, names } = {}) {
    if (labels) this.labels = labels;
    if (channels) this.channels = channels;
    if (names) this.names = names;
    this.finals = [];
    this.interims = [];
    this.speech = [];
    this.open.clear();
  }

  speechStart(channel, t) {
    this.open.set(channel, t);
  }

  speechEnd(channel, start, end) {
    this.open.delete(channel);
    this.speech.push({ channel, start, end });
  }

  addFinal(e) {
    this.finals.push(e);
  }

  addInterim(e) {
    this.interims.push({ channel: e.channel, t: e.end_s, label: e.label, score: e.scores?.[e.label] ?? 0 });
  }

  /** Drops what can no longer be seen (live view only), so long sessions stay small. */
  prune(now) {
    if (!this.span) return;
    const from = now - this.span * 1.5;
    this.finals = this.finals.filter((f) => f.end_s >= from);
    this.interims = this.interims.filter((i) => i.t >= from);
    this.speech = this.speech.filter((s) => s.end >= from);
  }

  draw(now) {
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth;
    const h = c.clientHeight;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
    }
    const g = c.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const from = this.span ? Math.max(0, now - this.span) : 0;
    const to = this.span ? Math.max(this.span, now) : Math.max(now, 1);
    const left = 90;
    const axis = 18;
    const x = (t) => left + ((t - from) / (to - from)) * (w - left - 6);
    const laneH = (h - axis) / this.channels;
    const styles = getComputedStyle(c);
    const ink = styles.color || "#222";
    const card = getComputedStyle(document.documentElement).getPropertyValue("--card").trim() || "#fff";

    g.font = "12px system-ui, sans-serif";
    g.textBaseline = "middle";
    for (let ch = 0; ch < this.channels; ch++) {
      const top = ch * laneH;
      g.lineWidth = 1;
      g.fillStyle = ink;
      g.fillText(this.names[ch] || `channel ${ch + 1}`, 4, top + laneH / 2);
      g.strokeStyle = "rgba(127,127,127,0.35)";
      g.strokeRect(left, top + 2, w - left - 6, laneH - 4);

      g.fillStyle = "rgba(127,127,127,0.22)";
      for (const s of this.speech) {
        if (s.channel === ch && s.end >= from) band(s.start, s.end);
      }
      if (this.open.has(ch)) band(this.open.get(ch), now);

      const spanTop = top + laneH * 0.55;
      const spanH = laneH * 0.4;
      const shown = this.finals
        .filter((f) => f.channel === ch && f.end_s >= from)
        .sort((a, b) => a.start_s - b.start_s);
      for (const f of shown) {
        const x0 = Math.max(left, x(f.start_s));
        g.fillStyle = labelColor(f.label, this.labels);
        g.fillRect(x0, spanTop, Math.max(2, x(f.end_s) - x0), spanH);
      }
      // Every final gets its label: whole inside its span, or whole beside it up to the next span, or
      // shortened inside, or at least its initial beside it. A 1–2 s segment of a minute-long view is
      // 15–35 px wide: too narrow for most names.
      g.font = "11px system-ui, sans-serif";
      let free = left;
      shown.forEach((f, i) => {
        const x0 = Math.max(left, x(f.start_s));
        const x1 = Math.max(x0 + 2, x(f.end_s));
        const next = i + 1 < shown.length ? Math.max(left, x(shown[i + 1].start_s)) : w - 6;
        const mid = spanTop + spanH / 2;
        const name = String(f.label);
        const inside = (text) => g.measureText(text).width + 6 <= x1 - x0;
        const beside = (text) => x0 >= free && x0 + g.measureText(text).width + 6 <= next;
        let text = null;
        let tag = false;
        if (inside(name)) text = name;
        else if (beside(name)) [text, tag] = [name, true];
        else if (inside(name.slice(0, 3))) text = name.slice(0, 3);
        else if (inside(name.slice(0, 1))) text = name.slice(0, 1);
        // A sliver of a segment (one cut short by shed audio, say) still names its label: its initial as a
        // tag, even where that tag overlaps the next span, because an unlabelled span reads as no result.
        else [text, tag] = [name.slice(0, 1), true];
        const tw = g.measureText(text).width;
        if (tag) {
          // Wider than its span: a tag in the card's colour, starting at the span, so it reads on both.
          g.fillStyle = card;
          g.fillRect(x0, mid - 7, tw + 6, 14);
          g.strokeStyle = labelColor(f.label, this.labels);
          g.lineWidth = 1;
          g.strokeRect(x0 + 0.5, mid - 6.5, tw + 5, 13);
          g.fillStyle = ink;
        } else {
          g.fillStyle = "#fff";
        }
        g.fillText(text, x0 + 3, mid);
        free = x0 + tw + 8;
      });
      g.font = "12px system-ui, sans-serif";

      const lineTop = top + 4;
      const lineH = laneH * 0.5 - 6;
      let prev = null;
      g.lineWidth = 2;
      for (const p of this.interims) {
        if (p.channel !== ch || p.t < from) continue;
        const px = x(p.t);
        const py = lineTop + (1 - p.score) * lineH;
        if (prev && p.t - prev.t < 1.5) {
          g.strokeStyle = labelColor(p.label, this.labels);
          g.beginPath();
          g.moveTo(prev.x, prev.y);
          g.lineTo(px, py);
          g.stroke();
        }
        g.fillStyle = labelColor(p.label, this.labels);
        g.fillRect(px - 2.5, py - 2.5, 5, 5);
        prev = { t: p.t, x: px, y: py };
      }
      // The interim line's width must not carry over to the next lane's outline.
      g.lineWidth = 1;

      function band(a, b) {
        const x0 = Math.max(left, x(a));
        const x1 = x(b);
        if (x1 > x0) g.fillRect(x0, top + 2, x1 - x0, laneH - 4);
      }
    }

    g.fillStyle = ink;
    g.textBaseline = "alphabetic";
    const step = niceStep((to - from) / 8);
    for (let t = Math.ceil(from / step) * step; t <= to; t += step) {
      const px = x(t);
      const text = `${Math.round(t)} s`;
      g.fillRect(px, h - axis, 1, 4);
      // The last tick's label would run off the right edge: put it left of its tick instead.
      const tw = g.measureText(text).width;
      g.fillText(text, px + 2 + tw > w ? px - tw - 2 : px + 2, h - 4);
    }
    this.canvas.setAttribute("aria-label", this.summary(from, to));
  }

  summary(from, to) {
    const shown = this.finals.filter((f) => f.end_s >= from);
    if (shown.length === 0) return `Timeline ${Math.round(from)}–${Math.round(to)} s: no final segments yet.`;
    const counts = {};
    for (const f of shown) counts[f.label] = (counts[f.label] ?? 0) + 1;
    const parts = Object.entries(counts).map(([l, n]) => `${n} ${l}`);
    return `Timeline ${Math.round(from)}–${Math.round(to)} s: ${shown.length} final segments (${parts.join(", ")}).`;
  }
}

function niceStep(raw) {
  for (const s of [1, 2, 5, 10, 15, 30, 60, 120, 300, 600]) if (s >= raw) return s;
  return 1200;
}

/**
 * The legend of a timeline: what each mark means (speech band, final span, interim line when the timeline
 * draws them), then each label's colour. Written into `element`, replacing what was there.
 */
export function renderLegend(element, labels, { interims = true } = {}) {
  const item = (kind, mark, text, label) => {
    const span = document.createElement("span");
    span.className = "legend-item";
    span.dataset.kind = kind;
    if (label !== undefined) span.dataset.label = label;
    mark.setAttribute("aria-hidden", "true");
    span.append(mark, document.createTextNode(text));
    return span;
  };
  const swatch = (className, color) => {
    const sw = document.createElement("span");
    sw.className = className;
    if (color) sw.style.background = color;
    return sw;
  };
  const items = [
    item("speech", swatch("swatch swatch-speech"), "speech"),
    item("final", swatch("swatch swatch-final"), "final segment, coloured by its label"),
  ];
  if (interims) items.push(item("interim", swatch("swatch-interim"), "interim result (higher: surer)"));
  for (const l of labels ?? []) items.push(item("label", swatch("swatch", labelColor(l, labels)), l, l));
  element.replaceChildren(...items);
}

/** One list item per final segment: "12.3–15.1 s · agent · angry 62 %" with a colour swatch. */
export function finalItem(e, labels) {
  const li = document.createElement("li");
  const swatch = document.createElement("span");
  swatch.className = "swatch";
  swatch.style.background = labelColor(e.label, labels);
  swatch.setAttribute("aria-hidden", "true");
  const score = e.scores?.[e.label];
  const text = document.createElement("span");
  const others = Object.entries(e.models ?? {})
    .slice(1)
    .map(([id, m]) => ` · ${id} ${m.label}`)
    .join("");
  text.textContent = `${e.start_s.toFixed(1)}–${e.end_s.toFixed(1)} s · ${channelName(e)} · ${e.label}${
    score != null ? ` ${Math.round(score * 100)} %` : ""
  }${others}`;
  li.dataset.label = e.label;
  li.dataset.channel = e.channel;
  li.append(swatch, text);
  return li;
}

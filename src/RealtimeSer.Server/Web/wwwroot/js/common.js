// Shared by both pages: the API key (asked once, kept for this tab in sessionStorage), authenticated fetch,
// and label colours (always shown next to the label's name, never alone).

const KEY = "realtimeser.apiKey";

export function apiKey() {
  return sessionStorage.getItem(KEY);
}

export function authHeaders() {
  const key = apiKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

let info = null;

/** The server's public facts: whether keys are required, limits. */
export async function serverInfo() {
  if (!info) {
    const r = await fetch("/v1/info");
    if (!r.ok) throw new Error(`The server did not answer /v1/info (${r.status}).`);
    info = await r.json();
  }
  return info;
}

/** Shows the key form (a modal dialog with a labelled field) and resolves with what was entered. */
export function askForKey(message) {
  const dialog = document.getElementById("key-dialog");
  const form = dialog.querySelector("form");
  const input = dialog.querySelector("input");
  const note = dialog.querySelector(".key-note");
  note.textContent = message ?? "This server requires an API key.";
  input.value = "";
  return new Promise((resolve) => {
    form.onsubmit = (e) => {
      e.preventDefault();
      const key = input.value.trim();
      if (!key) return;
      sessionStorage.setItem(KEY, key);
      dialog.close();
      resolve(key);
    };
    dialog.showModal();
    input.focus();
  });
}

/** Asks for a key when the server wants one and none is stored yet. */
export async function ensureKey() {
  const i = await serverInfo();
  if (i.auth_required && !apiKey()) await askForKey();
}

/** fetch with the key; a 401 forgets the key, asks again and retries once. */
export async function apiFetch(path, options = {}) {
  await ensureKey();
  const go = () => fetch(path, { ...options, headers: { ...(options.headers ?? {}), ...authHeaders() } });
  let r = await go();
  if (r.status === 401) {
    sessionStorage.removeItem(KEY);
    await askForKey("That API key was not accepted; enter a valid one.");
    r = await go();
  }
  return r;
}

/** The error message of a failed JSON call ({"event":"error","code","message"}), or the status. */
export async function errorText(r) {
  try {
    const body = await r.json();
    return `${body.code}: ${body.message}`;
  } catch {
    return `HTTP ${r.status}`;
  }
}

// Familiar colours for common emotion names; other labels take the palette in model order.
const NAMED = {
  angry: "#d62728", anger: "#d62728",
  disgust: "#8c6d31", contempt: "#8c6d31",
  fear: "#9467bd", fearful: "#9467bd",
  happy: "#e6a800", happiness: "#e6a800", joy: "#e6a800",
  neutral: "#7f7f7f", calm: "#17becf",
  sad: "#1f77b4", sadness: "#1f77b4",
  surprise: "#2ca02c", surprised: "#2ca02c",
  frustrated: "#e377c2",
};
const PALETTE = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"];

export function labelColor(label, labels) {
  const named = NAMED[String(label).toLowerCase()];
  if (named) return named;
  const i = Math.max(0, (labels ?? []).indexOf(label));
  return PALETTE[i % PALETTE.length];
}

export function pct(x) {
  return `${Math.round((x ?? 0) * 100)} %`;
}

export function seconds(x) {
  return `${(x ?? 0).toFixed(1)} s`;
}

/** mm:ss for durations. */
export function clock(s) {
  s = Math.max(0, Math.floor(s ?? 0));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

export function channelName(e) {
  return e.channel_name || `channel ${e.channel + 1}`;
}

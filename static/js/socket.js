// The tab's one WebSocket: connect, reconnect with backoff, the connection banner, and frame
// routing to the handlers main.js registers. It knows nothing of chats or messages.

import { el } from "./util.js";

const RECONNECT_MAX_MS = 30000;
const RECONNECT_TOO_MANY_MS = 30000; // close code 4429: too many sockets for this user
const RESTART_JITTER_MS = 500; // close code 1012: the service restarted

const connStatus = document.getElementById("conn-status");

let ws = null;
let connected = false; // true once the server said hello on the current socket
let attempt = 0;
let retryTimer = null;
let stopped = false; // signed out (4401): do not hammer the server
// A 4401 on a socket that was open may only mean this tab's session id changed (a password
// change in another tab cycles it, and the browser already holds the new cookie): try once.
let recheckedSession = false;
let unloading = false;
let handlers = {};
const goneListeners = [];

export function setHandlers(table) {
  handlers = table;
}

// Called whenever the current socket is gone (before any reconnect).
export function onGone(listener) {
  goneListeners.push(listener);
}

export function isConnected() {
  return connected;
}

export function isOpen() {
  return ws !== null;
}

export function send(frame) {
  if (!ws || !connected || ws.readyState !== WebSocket.OPEN) return false;
  ws.send(JSON.stringify(frame));
  return true;
}

export function connect() {
  clearTimeout(retryTimer);
  retryTimer = null;
  if (stopped || ws) return;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  let sock;
  try {
    sock = new WebSocket(`${scheme}//${location.host}/ws/`);
  } catch {
    scheduleReconnect();
    return;
  }
  ws = sock;
  sock.addEventListener("message", (event) => {
    if (ws === sock) onFrame(event.data);
  });
  sock.addEventListener("close", (event) => {
    if (ws === sock) socketGone(event.code);
  });
}

function socketGone(code) {
  const wasConnected = connected;
  ws = null;
  connected = false;
  for (const listener of goneListeners) listener();
  if (code === 4401 && wasConnected && !recheckedSession) {
    recheckedSession = true;
    connect();
    return;
  }
  if (code === 4401) {
    stopped = true;
    showSignedOut();
    return;
  }
  if (unloading) return;
  showReconnecting();
  if (code === 1012) {
    // Service restart: the server is already back (or another one is): come back at once,
    // spread over a moment so a whole fleet of tabs does not arrive together.
    clearTimeout(retryTimer);
    attempt = 0;
    retryTimer = setTimeout(connect, Math.random() * RESTART_JITTER_MS);
    return;
  }
  scheduleReconnect(code === 4429 ? RECONNECT_TOO_MANY_MS : 0);
}

// Give up on the current socket (half-open, or the browser went offline) and start over.
export function dropSocket() {
  const sock = ws;
  if (!sock) {
    showReconnecting();
    return;
  }
  socketGone(1000);
  try {
    sock.close(4000, "client reconnect");
  } catch {
    // already closing
  }
}

function scheduleReconnect(minimum = 0) {
  if (stopped || retryTimer) return;
  const ceiling = Math.min(RECONNECT_MAX_MS, 500 * 2 ** attempt);
  attempt += 1;
  const delay = Math.max(minimum, ceiling / 2 + (Math.random() * ceiling) / 2);
  retryTimer = setTimeout(connect, delay);
}

export function reconnectNow() {
  if (stopped || ws) return;
  attempt = 0;
  connect();
}

export function setUnloading(value) {
  unloading = value;
}

function onFrame(text) {
  let frame;
  try {
    frame = JSON.parse(text);
  } catch {
    return;
  }
  if (!frame || typeof frame !== "object") return;
  if (frame.type === "hello") {
    connected = true;
    recheckedSession = false;
    attempt = 0;
    hideStatus();
  }
  const handler = handlers[frame.type];
  if (handler) handler(frame);
}

// Connection banner (#conn-status, role=status)

function showReconnecting() {
  if (!connStatus) return;
  connStatus.replaceChildren(
    el("span", "conn-text", "Reconnecting… your messages will send when you're back."),
  );
  connStatus.className = "conn-status offline";
  connStatus.hidden = false;
}

function showSignedOut() {
  if (!connStatus) return;
  const link = el("a", "conn-link", "Log in again");
  link.href = `/accounts/login/?next=${encodeURIComponent(location.pathname)}`;
  connStatus.replaceChildren(el("span", "conn-text", "You have been signed out. "), link);
  connStatus.className = "conn-status signed-out";
  connStatus.hidden = false;
}

function hideStatus() {
  if (!connStatus) return;
  connStatus.hidden = true;
  connStatus.className = "conn-status";
  connStatus.replaceChildren();
}

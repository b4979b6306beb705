// Unsent messages: kept per user in localStorage until the server acks them, so they survive
// a reload, and (re)sent with their same client_id, which the server stores once.

import * as socket from "./socket.js";
import { isInt, myId } from "./util.js";

const ACK_TIMEOUT_MS = 15000; // an unacked send this old means the socket is dead
const RETRY_LATER_MS = 2000; // rate_limited / unavailable
const PERMANENT_ERRORS = new Set(["invalid", "empty", "too_long", "not_found", "blocked"]);
const OUTBOX_KEY = `chatsite:outbox:${myId}`;

const inflight = new Map(); // client_id -> time sent on the current socket
let flushTimer = null;

export function load() {
  try {
    const items = JSON.parse(localStorage.getItem(OUTBOX_KEY) || "[]");
    if (!Array.isArray(items)) return [];
    return items.filter(
      (i) => i && typeof i.client_id === "string" && isInt(i.chat) && typeof i.body === "string",
    );
  } catch {
    return [];
  }
}

function save(items) {
  try {
    if (items.length) localStorage.setItem(OUTBOX_KEY, JSON.stringify(items));
    else localStorage.removeItem(OUTBOX_KEY);
  } catch {
    // Storage full or disabled: the message still sends while this page stays open.
  }
}

export function add(item) {
  save([...load(), item]);
  flush();
}

// The server has the message (an ack, or its echo): stop sending it.
export function settle(clientId) {
  inflight.delete(clientId);
  const items = load();
  const kept = items.filter((i) => i.client_id !== clientId);
  if (kept.length !== items.length) save(kept);
}

// Unsent drafts are private: they do not outlive an explicit logout on this browser.
export function clear() {
  save([]);
}

export function flush() {
  clearTimeout(flushTimer);
  flushTimer = null;
  if (!socket.isConnected()) return;
  for (const item of load()) {
    if (inflight.has(item.client_id)) continue;
    const frame = { type: "send", chat: item.chat, client_id: item.client_id, body: item.body };
    if (Number.isInteger(item.reply_to)) frame.reply_to = item.reply_to;
    if (!socket.send(frame)) return;
    inflight.set(item.client_id, Date.now());
  }
}

// The server refused a send: a passing refusal retries it shortly; a permanent one drops it
// and returns the dropped item (null when there is nothing more to do).
export function refused(clientId, code) {
  inflight.delete(clientId);
  if (!PERMANENT_ERRORS.has(code)) {
    // rate_limited, unavailable: the same client_id goes again shortly.
    if (!flushTimer) flushTimer = setTimeout(flush, RETRY_LATER_MS);
    return null;
  }
  const item = load().find((i) => i.client_id === clientId) || { client_id: clientId };
  settle(clientId);
  return item;
}

// A new socket resends everything that was in flight on the old one.
socket.onGone(() => inflight.clear());

// A send without an ack for this long means the socket is half-open: start over.
setInterval(() => {
  if (!socket.isConnected()) return;
  const now = Date.now();
  for (const sentAt of inflight.values()) {
    if (now - sentAt > ACK_TIMEOUT_MS) {
      socket.dropSocket();
      return;
    }
  }
}, 5000);

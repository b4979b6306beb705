// Unsent messages: kept per user in localStorage until the server acks them, so they survive
// a reload, and (re)sent with their same client_id, which the server stores once.
//
// Strictly first in, first out per chat: one send per chat is in flight at a time, so a later
// message can never be stored before an earlier one, whatever the rate limit does. After a
// `rate_limited` (or `unavailable`) the chat is held for the error's `retry_after` seconds (else
// a growing backoff) and then resumes at the same message. A send the server refuses for good
// stays in the outbox marked failed (shown with Retry and Discard, across reloads) and no
// longer holds the chat's later messages.

import * as socket from "./socket.js";
import { isInt, myId } from "./util.js";

const ACK_TIMEOUT_MS = 15000; // an unacked send this old means the socket is dead
const BACKOFF_FIRST_MS = 1000; // a refusal without retry_after: 1 s, 2 s, 4 s... up to 16 s
const BACKOFF_MAX_MS = 16000;
const PASSING_ERRORS = new Set(["rate_limited", "unavailable"]);
const OUTBOX_KEY = `chatsite:outbox:${myId}`;

const inflight = new Map(); // client_id -> {chat, at}: sent on the current socket, not acked
const held = new Map(); // chat -> {until, timer, refusals}: waiting out a passing refusal
const holdListeners = [];

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

// `listener(chat, seconds)` when a chat's sends are held (seconds to wait), and
// `listener(chat, 0)` when they flow again.
export function onHold(listener) {
  holdListeners.push(listener);
}

function announce(chat, seconds) {
  for (const listener of holdListeners) listener(chat, seconds);
}

export function add(item) {
  save([...load(), item]);
  flush();
}

export function isHeld(chat) {
  return held.has(chat);
}

// The server has the message (an ack, or its echo): stop sending it, send the chat's next.
export function settle(clientId) {
  const sent = inflight.get(clientId);
  inflight.delete(clientId);
  const items = load();
  const kept = items.filter((i) => i.client_id !== clientId);
  if (kept.length !== items.length) save(kept);
  if (sent) release(sent.chat);
  flush();
}

function release(chat) {
  const hold = held.get(chat);
  if (!hold || hold.until > Date.now()) return;
  held.delete(chat);
  announce(chat, 0);
}

// Unsent drafts are private: they do not outlive an explicit logout on this browser.
export function clear() {
  save([]);
}

export function flush() {
  if (!socket.isConnected()) return;
  const busy = new Set([...inflight.values()].map((s) => s.chat));
  const now = Date.now();
  for (const item of load()) {
    if (item.failed || busy.has(item.chat)) continue;
    busy.add(item.chat); // this item is the chat's next, sent or not
    const hold = held.get(item.chat);
    if (hold && hold.until > now) continue;
    const frame = { type: "send", chat: item.chat, client_id: item.client_id, body: item.body };
    if (Number.isInteger(item.reply_to)) frame.reply_to = item.reply_to;
    if (!socket.send(frame)) return;
    inflight.set(item.client_id, { chat: item.chat, at: now });
  }
}

// The server refused a send. A passing refusal holds the chat and returns null; a permanent
// one marks the message failed and returns it (null when the outbox no longer has it).
export function refused(clientId, { code, detail, retryAfter } = {}) {
  const sent = inflight.get(clientId);
  inflight.delete(clientId);
  const items = load();
  const item = items.find((i) => i.client_id === clientId);
  if (!item) return null;
  if (PASSING_ERRORS.has(code)) {
    hold(item.chat, retryAfter);
    return null;
  }
  item.failed = typeof code === "string" ? code : "invalid";
  if (typeof detail === "string") item.detail = detail.slice(0, 300);
  save(items);
  if (sent) flush();
  return item;
}

function hold(chat, retryAfter) {
  const previous = held.get(chat);
  const refusals = previous ? previous.refusals + 1 : 1;
  let wait = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (refusals - 1));
  if (typeof retryAfter === "number" && retryAfter > 0 && retryAfter <= 3600) {
    wait = retryAfter * 1000;
  }
  wait += Math.random() * 250; // many tabs held at once should not all come back together
  if (previous) clearTimeout(previous.timer);
  const entry = { until: Date.now() + wait, refusals, timer: null };
  entry.timer = setTimeout(() => {
    entry.until = 0; // timers may fire a little before Date.now() reaches `until`
    flush();
  }, wait);
  held.set(chat, entry);
  announce(chat, Math.ceil(wait / 1000));
}

// The person gave a failed message up (Discard, or Edit): forget it, and tell the server, which
// may be holding the chat's later sends for it. A server that does not know `discard` answers
// with an error naming this client_id, which `refused` ignores (the outbox no longer has it).
export function discard(clientId) {
  const items = load();
  const item = items.find((i) => i.client_id === clientId);
  if (!item) return;
  inflight.delete(clientId);
  save(items.filter((i) => i !== item));
  socket.send({ type: "discard", chat: item.chat, client_id: clientId });
  flush();
}

// Try a failed message again: it goes last, after what was typed since.
export function retry(clientId) {
  const items = load();
  const item = items.find((i) => i.client_id === clientId);
  if (!item) return null;
  delete item.failed;
  delete item.detail;
  save([...items.filter((i) => i !== item), item]);
  flush();
  return item;
}

// A new socket resends everything that was in flight on the old one.
socket.onGone(() => inflight.clear());

// A send without an ack for this long means the socket is half-open: start over.
setInterval(() => {
  if (!socket.isConnected()) return;
  const now = Date.now();
  for (const sent of inflight.values()) {
    if (now - sent.at > ACK_TIMEOUT_MS) {
      socket.dropSocket();
      return;
    }
  }
}, 5000);

// The open chat's messages: shown once per seq in seq order, each replaced in place when a
// newer version of it arrives; the sync cursors; delivery/read marks; the read pointer.
// All of it is per chat: `init` starts over for the panel in the page (at load, and after a
// chat is switched in place), on the tab's one socket.
//
// Rendering is idempotent by (chat, seq): a message whose version is not above the shown one
// is ignored. Catch-up after every (re)connect asks for every change since `cursor`, the chat
// version up to which every change is shown; a server whose hello has no versions is synced
// by seq (`after`) as before.

import * as around from "./around.js";
import { decorate } from "./decorate.js";
import * as message from "./message.js";
import * as outbox from "./outbox.js";
import * as presence from "./presence.js";
import * as reactions from "./reactions.js";
import * as receipts from "./receipts.js";
import * as scroll from "./scroll.js";
import * as socket from "./socket.js";
import { intAttr, isInt, isVisible, me } from "./util.js";

let chat = null; // the chat shown, and its panel's elements
let chatEl = null;
let list = null;
let observer = null;
let versionsKnown = false; // the socket's hello listed versions
let contig = 0; // every seq up to this one is shown (or older than the first page)
const shownSeqs = new Set();
let versioned = false; // this connection syncs by version (its hello had them)
let cursor = null; // every change of the chat up to this version is shown
let syncing = null; // the sync in flight: "since" (versions), "after" (seqs) or null
let syncedFrom = -1;
let lastFrameVersion = 0; // the version of the last message frame since the sync was sent
let syncRetry = null; // a rate-limited sync, sent again once the server's retry_after has passed
let readSent = 0;

let listening = false;

export function init() {
  observer?.disconnect();
  connectionLost();
  chatEl = document.getElementById("chat");
  list = document.getElementById("message-list");
  chat = Number(chatEl.dataset.chatId);
  shownSeqs.clear();
  versioned = false;
  receipts.init(chatEl);
  readSent = Number(chatEl.dataset.readSeq) || 0;
  cursor = pageVersion();
  noteShown();
  contig = highestSeq();
  // "New messages" divider at the first unread message from the other member.
  for (const node of list.querySelectorAll("li.msg")) {
    if (Number(node.dataset.seq) > readSent && node.dataset.sender !== me) {
      list.insertBefore(message.unreadDivider(), node);
      break;
    }
  }
  restorePending();
  decorate();
  receipts.renderStatuses();
  scroll.initialScroll();
  if (!listening) {
    listening = true;
    scroll.onPinnedChange((pinned) => {
      if (pinned) markRead();
    });
  }
  // Older history arrives as an htmx partial at the top.
  observer = new MutationObserver((records) => {
    const added = records.some((r) =>
      [...r.addedNodes].some((n) => n.nodeType === 1 && n.classList.contains("msg")),
    );
    if (!added) return;
    around.dropStoredPending(list);
    noteShown();
    decorate();
    receipts.renderStatuses();
    scroll.restoreAfterOlder();
  });
  observer.observe(list, { childList: true });
}

// The version the page was rendered at: the chat's, else the highest of its messages' (every
// later change has a higher one); null when the server renders no versions.
function pageVersion() {
  const chatVersion = intAttr(chatEl.dataset.version);
  if (chatVersion !== null) return chatVersion;
  let high = 0;
  for (const node of list.querySelectorAll("li.msg")) {
    const version = intAttr(node.dataset.version);
    if (version === null) return null;
    high = Math.max(high, version);
  }
  return high;
}

function noteShown() {
  for (const node of list.querySelectorAll("li.msg")) {
    const seq = Number(node.dataset.seq);
    if (seq) shownSeqs.add(seq);
  }
}

// hello: `entry` is the open chat's (undefined when the server does not list it).
// hello: whether the server syncs by version (a chat switched in later asks so too).
export function serverVersions(versions) {
  versionsKnown = versions;
}

export function connected(entry) {
  if (entry && isInt(entry.read_seq)) readSent = Math.min(readSent, entry.read_seq);
  versioned = Boolean(entry && isInt(entry.version) && cursor !== null);
  requestSync();
  markRead();
}

// A chat switched in on a socket that said hello already: catch up from the panel's version
// (what changed between its rendering and now), as after a (re)connect.
export function switched() {
  if (!socket.isConnected()) return;
  versioned = versionsKnown && cursor !== null;
  requestSync();
  markRead();
}

export function connectionLost() {
  syncing = null;
  clearTimeout(syncRetry);
  syncRetry = null;
}

function requestSync() {
  if (!chat || syncing || !socket.isConnected()) return;
  if (versioned) {
    syncing = "since";
    syncedFrom = cursor;
    lastFrameVersion = cursor;
    socket.send({ type: "sync", chat, since: cursor });
  } else {
    syncing = "after";
    syncedFrom = contig;
    socket.send({ type: "sync", chat, after: contig });
  }
}

export function synced(f) {
  clearTimeout(syncRetry);
  syncRetry = null;
  const kind = syncing;
  syncing = null;
  if (kind === "since" || (kind === null && versioned)) {
    if (f.more) {
      // A reply's frames come together, in version order: continue after its last one.
      cursor = Math.max(cursor, lastFrameVersion);
      requestSync();
    } else if (isInt(f.version)) {
      cursor = Math.max(cursor, f.version);
    }
  } else if (f.more || (isInt(f.last_seq) && contig < f.last_seq && contig > syncedFrom)) {
    requestSync();
  }
  markRead();
}

// An error frame that names no pending message may be the refusal of a sync. Rate limited:
// the sync stays pending (nothing else sends one) and goes again once, after retry_after.
// (`unknown_type` is not a sync's refusal: it answers a frame an older server does not know,
// like `discard`.)
export function refused(code, retryAfter) {
  if (!syncing || code === "unknown_type") return;
  if (code !== "rate_limited") {
    syncing = null;
  } else if (!syncRetry) {
    const seconds = isInt(retryAfter) && retryAfter > 0 ? Math.min(retryAfter, 300) : 5;
    syncRetry = setTimeout(() => {
      syncRetry = null;
      syncing = null;
      requestSync();
    }, seconds * 1000);
  }
}

// Versions arrive in order on one socket; one that skips some means changes were missed.
function trackVersion(version) {
  if (!versioned || !isInt(version)) return;
  lastFrameVersion = version;
  if (syncing) return;
  if (version === cursor + 1) cursor = version;
  else if (version > cursor + 1) requestSync();
}

// A message of the open chat, from a `message` frame or an `ack`.
export function receive(m) {
  trackVersion(m.version);
  const node = bySeq(m.seq);
  if (node) {
    const shown = intAttr(node.dataset.version) || 0;
    if ((isInt(m.version) ? m.version : 0) > shown) replace(node, m);
    return;
  }
  // Older than the loaded history: loading it shows the message as it is then; the replies
  // to it that are shown quote its new state now.
  if (document.getElementById("load-older") && m.seq < lowestSeq()) {
    reactions.updateQuotes(list, m);
    return;
  }
  // Newer than a history opened around a search result: loading the rest brings it.
  if (around.holdsBack(m, highestSeq())) return;
  insert(m);
}

function replace(node, m) {
  message.fill(node, m);
  reactions.updateQuotes(list, m);
  message.processHtmx(node);
  decorate();
}

function insert(m) {
  document.getElementById("no-messages")?.remove();
  const own = m.sender === me;
  const wasPinned = scroll.isPinned();
  const reading = readingNow();
  let node = own && m.client_id ? findPending(m.client_id) : null;
  if (node) {
    outbox.settle(m.client_id);
    message.fill(node, m);
    node.remove();
  } else {
    node = message.blank();
    message.fill(node, m);
  }
  place(node, m.seq);
  if (!own && !reading && !document.getElementById("unread-divider") && m.seq > contig) {
    list.insertBefore(message.unreadDivider(), node);
  }
  message.processHtmx(node);
  shownSeqs.add(m.seq);
  const gap = m.seq > contig + 1;
  while (shownSeqs.has(contig + 1)) contig += 1;
  if (gap && m.seq > contig) requestSync();
  if (!own) presence.messageFrom(m.sender);
  decorate();
  if (wasPinned || own) scroll.scrollToBottom();
  else scroll.showPill();
  markRead();
}

// The old `message_removed` frame (servers without versions).
export function removedBySeq(seq, id) {
  const node = bySeq(seq) || (isInt(id) ? list.querySelector(`li.msg[data-id="${id}"]`) : null);
  if (!node) return;
  node.classList.add("removed");
  const text = node.querySelector('[data-field="body"]');
  if (text) {
    text.textContent = "Message removed by a moderator";
    text.dataset.linked = "1";
  }
  node.querySelector(".msg-menu")?.remove();
}

export function showsId(id) {
  return Boolean(list && list.querySelector(`li.msg[data-id="${Number(id)}"]`));
}

function bySeq(seq) {
  return list.querySelector(`li.msg[data-seq="${Number(seq)}"]:not(.pending)`);
}

export function findPending(clientId) {
  if (!list) return null;
  return list.querySelector(`li.msg.pending[data-client-id="${CSS.escape(clientId)}"]`);
}

function highestSeq() {
  let high = 0;
  for (const seq of shownSeqs) high = Math.max(high, seq);
  return high;
}

function lowestSeq() {
  let low = Infinity;
  for (const seq of shownSeqs) low = Math.min(low, seq);
  return low;
}

// Before the first shown message with a higher seq, else before the pending ones, else last.
function place(node, seq) {
  let before = null;
  for (const other of list.querySelectorAll("li.msg")) {
    if (other === node) continue;
    if (other.classList.contains("pending") || Number(other.dataset.seq) > seq) {
      before = other;
      break;
    }
  }
  if (!before) {
    list.append(node);
    return;
  }
  // Keep the "New messages" divider and day separators attached to the message they head.
  let anchor = before;
  const prev = before.previousElementSibling;
  if (prev && (prev.classList.contains("unread-divider") || prev.classList.contains("day-sep"))) {
    anchor = prev;
    const prev2 = prev.previousElementSibling;
    if (prev2 && prev2.classList.contains("day-sep")) anchor = prev2;
  }
  list.insertBefore(node, anchor);
}

// Pending (unacked) messages: this tab's, and those a reload left in the outbox.

export function addPending(item) {
  document.getElementById("no-messages")?.remove();
  document.getElementById("unread-divider")?.remove();
  list.append(message.pending(item));
  decorate();
}

function restorePending() {
  for (const item of outbox.load()) {
    if (item.chat !== chat) continue;
    const stored = list.querySelector(`li.msg[data-client-id="${CSS.escape(item.client_id)}"]:not(.pending)`);
    if (stored) {
      outbox.settle(item.client_id); // stored before the reload; only the ack was lost
      continue;
    }
    if (findPending(item.client_id)) continue;
    document.getElementById("no-messages")?.remove();
    list.append(message.pending(item));
  }
}

// The read pointer: moved when the chat is open, visible and scrolled to its end.

function readingNow() {
  if (!around.endLoaded()) return false;
  return Boolean(chat && isVisible() && scroll.isPinned());
}

export function markRead() {
  if (!chat) return;
  const seq = highestSeq();
  if (readingNow() && socket.isConnected() && seq > readSent) {
    if (socket.send({ type: "read", chat, seq })) readSent = seq;
  }
}

// Chatsite browser client: one WebSocket per tab carrying every chat of the user.
//
// The server is the truth. This module shows what it is told, keeps unsent messages in
// localStorage until the server acks them (resending with the same client_id, which the server
// stores once), and re-syncs the open chat from its last seq after every (re)connect or gap.
// User text only ever reaches the DOM through textContent or DOM-built links: never as markup.
// No inline scripts, no eval: safe under a strict Content-Security-Policy.

const RECONNECT_MAX_MS = 30000;
const RECONNECT_TOO_MANY_MS = 30000; // close code 4429: too many sockets for this user
const ACK_TIMEOUT_MS = 15000; // an unacked send this old means the socket is dead
const RETRY_LATER_MS = 2000; // rate_limited / unavailable
const TYPING_EVERY_MS = 3000;
const TYPING_SHOWN_MS = 6000;
const TOAST_MS = 6000;
const TOAST_MAX = 3;
const GROUP_GAP_MS = 5 * 60 * 1000;
const MAX_BODY = 4000;
const BOTTOM_SLACK_PX = 48;
const PERMANENT_ERRORS = new Set(["invalid", "empty", "too_long", "not_found", "blocked"]);

const body = document.body;
const me = body.dataset.user || "";
const myId = body.dataset.userId || "";

const chatEl = document.getElementById("chat");
const openChat = chatEl ? Number(chatEl.dataset.chatId) : null;
const peer = chatEl ? chatEl.dataset.peer : null;
const list = document.getElementById("message-list");
const messagesBox = document.getElementById("messages");
const composer = document.getElementById("composer");
const textarea = document.getElementById("composer-body");
const composerError = document.getElementById("composer-error");
const template = document.getElementById("message-template");
const typingEl = document.getElementById("typing");
const pill = document.getElementById("new-pill");
const connStatus = document.getElementById("conn-status");
const totalBadge = document.getElementById("unread-total");

const baseTitle = document.title.replace(/^\(\d+\)\s*/, "");
const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long" });
const dayYearFmt = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "long", year: "numeric" });
const weekdayFmt = new Intl.DateTimeFormat(undefined, { weekday: "short" });
const shortDateFmt = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });
const relFmt = new Intl.RelativeTimeFormat("en", { numeric: "auto" });

// ---------------------------------------------------------------------------------------------
// Small helpers

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function isInt(value) {
  return Number.isInteger(value) && value >= 0;
}

function truncate(text, max) {
  const chars = Array.from(text || "");
  return chars.length > max ? chars.slice(0, max - 1).join("") + "…" : chars.join("");
}

function uuid() {
  if (window.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function parseDate(value) {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}

function dayKey(d) {
  return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
}

function dayLabel(d) {
  const now = new Date();
  const yesterday = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1);
  if (dayKey(d) === dayKey(now)) return "Today";
  if (dayKey(d) === dayKey(yesterday)) return "Yesterday";
  return d.getFullYear() === now.getFullYear() ? dayFmt.format(d) : dayYearFmt.format(d);
}

function listTime(d) {
  const now = new Date();
  if (dayKey(d) === dayKey(now)) return timeFmt.format(d);
  const days = (now - d) / 86400000;
  if (days < 6) return weekdayFmt.format(d);
  return shortDateFmt.format(d);
}

function agoText(d) {
  const seconds = Math.round((d - Date.now()) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 60) return "just now";
  if (abs < 3600) return relFmt.format(Math.round(seconds / 60), "minute");
  if (abs < 86400) return relFmt.format(Math.round(seconds / 3600), "hour");
  if (abs < 7 * 86400) return relFmt.format(Math.round(seconds / 86400), "day");
  return `on ${dayYearFmt.format(d)}`;
}

function isVisible() {
  return document.visibilityState === "visible";
}

// ---------------------------------------------------------------------------------------------
// Outbox: unsent messages, per user, in localStorage so they survive a reload.

const OUTBOX_KEY = `chatsite:outbox:${myId}`;

function outboxLoad() {
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

function outboxSave(items) {
  try {
    if (items.length) localStorage.setItem(OUTBOX_KEY, JSON.stringify(items));
    else localStorage.removeItem(OUTBOX_KEY);
  } catch {
    // Storage full or disabled: the message still sends while this page stays open.
  }
}

function outboxAdd(item) {
  outboxSave([...outboxLoad(), item]);
}

function outboxRemove(clientId) {
  const items = outboxLoad();
  const kept = items.filter((i) => i.client_id !== clientId);
  if (kept.length !== items.length) outboxSave(kept);
}

// ---------------------------------------------------------------------------------------------
// Socket: connect, reconnect with backoff, route frames.

let ws = null;
let connected = false; // true once the server said hello on the current socket
let attempt = 0;
let retryTimer = null;
let stopped = false; // signed out (4401): do not hammer the server
// A 4401 on a socket that was open may only mean this tab's session id changed (a password
// change in another tab cycles it, and the browser already holds the new cookie): try once.
let recheckedSession = false;
let unloading = false;
const inflight = new Map(); // client_id -> time sent on the current socket
let flushTimer = null;

function send(frame) {
  if (!ws || !connected || ws.readyState !== WebSocket.OPEN) return false;
  ws.send(JSON.stringify(frame));
  return true;
}

function connect() {
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
  syncing = false;
  inflight.clear();
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
  scheduleReconnect(code === 4429 ? RECONNECT_TOO_MANY_MS : 0);
}

function dropSocket() {
  const sock = ws;
  if (!sock) return;
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

function reconnectNow() {
  if (stopped || ws) return;
  attempt = 0;
  connect();
}

function onFrame(text) {
  let frame;
  try {
    frame = JSON.parse(text);
  } catch {
    return;
  }
  if (!frame || typeof frame !== "object") return;
  const handler = handlers[frame.type];
  if (handler) handler(frame);
}

const handlers = {
  hello(f) {
    connected = true;
    recheckedSession = false;
    attempt = 0;
    hideStatus();
    const chats = Array.isArray(f.chats) ? f.chats : [];
    unread.clear();
    let missing = false;
    for (const c of chats) {
      if (!isInt(c.id)) continue;
      unread.set(c.id, isInt(c.unread) ? c.unread : 0);
      if (c.peer && c.peer_status) setPresence(c.peer, c.peer_status, c.peer_last_seen);
      if (c.id === openChat && isInt(c.read_seq)) readSent = Math.min(readSent, c.read_seq);
      if (chatListEl() && !chatItem(c.id)) missing = true;
    }
    unreadTotal = isInt(f.unread_total) ? f.unread_total : 0;
    renderBadges();
    renderPresence();
    if (missing) refreshChatList();
    if (openChat) requestSync();
    flushOutbox();
    markRead();
  },

  message(f) {
    const m = f.message;
    if (!m || !isInt(m.chat) || !isInt(m.seq) || !isInt(m.id)) return;
    const fresh = !seenIds.has(m.id);
    seenIds.add(m.id);
    if (m.chat === openChat) onOpenChatMessage(m);
    if (fresh) {
      bumpChatItem(m);
      if (m.sender !== me && !(m.chat === openChat && isVisible())) toast(m);
      if (m.sender !== me && !isVisible()) notify(m);
    }
  },

  ack(f) {
    if (typeof f.client_id !== "string") return;
    inflight.delete(f.client_id);
    outboxRemove(f.client_id);
    const m = f.message;
    if (m && m.chat === openChat && isInt(m.seq) && isInt(m.id)) onOpenChatMessage(m);
    // The chat list shows it now: the echo that follows is no longer fresh once it is shown.
    if (m && isInt(m.chat) && isInt(m.seq)) bumpChatItem(m);
  },

  synced(f) {
    if (f.chat !== openChat) return;
    syncing = false;
    if (f.more || (isInt(f.last_seq) && contig < f.last_seq && contig > syncedFrom)) {
      requestSync();
    }
    markRead();
  },

  unread(f) {
    if (!isInt(f.chat)) return;
    unread.set(f.chat, isInt(f.unread) ? f.unread : 0);
    if (isInt(f.unread_total)) unreadTotal = f.unread_total;
    renderBadges();
  },

  read(f) {
    if (f.chat !== openChat || f.user === me || !isInt(f.seq)) return;
    peerRead = Math.max(peerRead, f.seq);
    peerDelivered = Math.max(peerDelivered, peerRead);
    renderStatuses();
  },

  delivered(f) {
    if (f.chat !== openChat || f.user === me || !isInt(f.seq)) return;
    peerDelivered = Math.max(peerDelivered, f.seq);
    renderStatuses();
  },

  typing(f) {
    if (f.chat === openChat && f.user && f.user !== me) showTyping(f.user);
  },

  presence(f) {
    if (typeof f.user !== "string") return;
    setPresence(f.user, f.status, f.last_seen);
    renderPresence();
  },

  message_removed(f) {
    if (!isInt(f.chat) || !isInt(f.seq)) return;
    if (f.chat === openChat && list) {
      const node = list.querySelector(`li.msg[data-seq="${f.seq}"]`) || (isInt(f.id) ? findById(f.id) : null);
      if (node) showRemoved(node);
    }
    const item = chatItem(f.chat);
    if (item && Number(item.dataset.lastSeq) === f.seq) {
      const preview = item.querySelector('[data-field="preview"]');
      if (preview) preview.textContent = "Message removed";
    }
  },

  error(f) {
    if (typeof f.client_id === "string" && f.client_id) {
      sendRefused(f.client_id, f.code, f.detail);
      return;
    }
    if (syncing && f.code !== "rate_limited") syncing = false;
    console.warn("chatsite: server refused a frame:", f.code, f.detail);
  },
};

// ---------------------------------------------------------------------------------------------
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

// ---------------------------------------------------------------------------------------------
// Unread badges: per chat in the list, total in the top bar and in the document title.

const unread = new Map();
let unreadTotal = 0;

function chatListEl() {
  return document.getElementById("chatlist");
}

function chatItem(chatId) {
  const listEl = chatListEl();
  return listEl ? listEl.querySelector(`li.chatitem[data-chat-id="${Number(chatId)}"]`) : null;
}

function shownUnread(chatId) {
  // The open chat being read right now shows 0 at once, not a flash of 1 until the read lands.
  if (chatId === openChat && readingNow()) return 0;
  return unread.get(chatId) || 0;
}

function setBadge(badge, count) {
  if (!badge) return;
  badge.dataset.count = String(count);
  badge.replaceChildren(String(count), el("span", "visually-hidden", " unread"));
  badge.hidden = count === 0;
}

function renderBadges() {
  const listEl = chatListEl();
  if (listEl) {
    for (const item of listEl.querySelectorAll("li.chatitem")) {
      const id = Number(item.dataset.chatId);
      if (unread.has(id)) setBadge(item.querySelector('[data-field="unread"]'), shownUnread(id));
    }
  }
  const hiddenOpen = openChat ? (unread.get(openChat) || 0) - shownUnread(openChat) : 0;
  const total = Math.max(0, unreadTotal - hiddenOpen);
  if (totalBadge) {
    totalBadge.dataset.count = String(total);
    totalBadge.textContent = String(total);
    totalBadge.setAttribute("aria-label", `${total} unread`);
    totalBadge.hidden = total === 0;
  }
  document.title = total > 0 ? `(${total}) ${baseTitle}` : baseTitle;
}

function readBadgesFromPage() {
  const listEl = chatListEl();
  if (!listEl) return;
  for (const badge of listEl.querySelectorAll('li.chatitem [data-field="unread"]')) {
    const item = badge.closest("li.chatitem");
    const count = Number(badge.dataset.count) || 0;
    unread.set(Number(item.dataset.chatId), count);
    unreadTotal += count;
  }
}

// ---------------------------------------------------------------------------------------------
// Chat list: live preview, time and order; unknown chats reload the list from the server.

const seenIds = new Set();
let listRefresh = null;
let listRefreshAgain = false;

function bumpChatItem(m) {
  const listEl = chatListEl();
  if (!listEl) return;
  const item = chatItem(m.chat);
  if (!item) {
    refreshChatList();
    return;
  }
  const last = Number(item.dataset.lastSeq) || 0;
  if (m.seq < last) return;
  item.dataset.lastSeq = String(m.seq);
  const preview = item.querySelector('[data-field="preview"]');
  if (preview) {
    const text = m.removed ? "Message removed" : truncate(m.body, 80);
    preview.textContent = m.sender === me && !m.removed ? `You: ${text}` : text;
  }
  const sentAt = parseDate(m.sent_at);
  if (sentAt) {
    let when = item.querySelector("time.when");
    if (!when) {
      when = el("time", "when");
      item.querySelector(".chatitem-top")?.append(when);
    }
    when.setAttribute("datetime", m.sent_at);
    when.textContent = listTime(sentAt);
  }
  if (listEl.firstElementChild !== item) listEl.prepend(item);
}

async function refreshChatList() {
  if (listRefresh) {
    listRefreshAgain = true;
    return;
  }
  listRefresh = (async () => {
    try {
      const response = await fetch("/chats/", {
        credentials: "same-origin",
        headers: { Accept: "text/html" },
      });
      if (!response.ok) return;
      const doc = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = doc.getElementById("chatlist");
      const current = chatListEl();
      if (!fresh || !current) return;
      const adopted = document.adoptNode(fresh);
      if (openChat) {
        const item = adopted.querySelector(`li.chatitem[data-chat-id="${openChat}"]`);
        if (item) {
          item.classList.add("current");
          item.querySelector("a")?.setAttribute("aria-current", "page");
        }
      }
      current.replaceWith(adopted);
      decorateChatList();
      renderBadges();
      renderPresence();
    } catch {
      // Offline: the next hello or message tries again.
    }
  })();
  await listRefresh;
  listRefresh = null;
  if (listRefreshAgain) {
    listRefreshAgain = false;
    refreshChatList();
  }
}

function decorateChatList() {
  const listEl = chatListEl();
  if (!listEl) return;
  for (const when of listEl.querySelectorAll("time.when")) {
    const d = parseDate(when.getAttribute("datetime"));
    if (d) {
      when.textContent = listTime(d);
      when.title = fullFmt.format(d);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Presence: a dot and "last seen" in the chat header and the chat list.

const presence = new Map(); // username -> {status, lastSeen}

function setPresence(user, status, lastSeen) {
  presence.set(user, { status: typeof status === "string" ? status : "", lastSeen: parseDate(lastSeen) });
}

// "Online", "Last seen 5 minutes ago", "Offline"; null when hidden or not known yet.
function presenceText(p) {
  if (!p || (p.status !== "online" && p.status !== "offline")) return null;
  if (p.status === "online") return "Online";
  return p.lastSeen ? `Last seen ${agoText(p.lastSeen)}` : "Offline";
}

function renderPresence() {
  const header = document.getElementById("presence");
  if (header && peer) {
    const p = presence.get(peer);
    const text = presenceText(p);
    header.dataset.status = p ? p.status : "";
    if (!text) {
      header.replaceChildren();
      header.removeAttribute("title");
    } else {
      const dot = el("span", `presence-dot ${p.status}`);
      dot.setAttribute("aria-hidden", "true");
      header.replaceChildren(dot, el("span", "presence-text", text));
      if (p.lastSeen) header.title = `Last seen ${fullFmt.format(p.lastSeen)}`;
      else header.removeAttribute("title");
    }
  }
  const listEl = chatListEl();
  if (listEl) {
    // A dot on the avatar: filled while online, a ring once offline with a known last seen.
    for (const item of listEl.querySelectorAll("li.chatitem")) {
      const p = presence.get(item.dataset.peer);
      const text = presenceText(p);
      const online = Boolean(p && p.status === "online");
      item.classList.toggle("online", online);
      const dot = item.querySelector('[data-field="presence"]');
      if (!dot) continue;
      dot.hidden = !online && !(p && p.status === "offline" && p.lastSeen);
      dot.classList.toggle("online", online);
      dot.classList.toggle("offline", !online);
      const label = dot.querySelector('[data-field="presence-text"]');
      if (label && text) label.textContent = `(${text.toLowerCase()})`;
      if (text) dot.title = text;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The open chat: messages in seq order, statuses, sync, read pointer, scroll.

let contig = 0; // every seq up to this one is shown (or older than the first page)
let syncing = false;
let syncedFrom = -1;
let readSent = 0;
let peerRead = 0;
let peerDelivered = 0;
let pinned = true;
let olderAnchor = null; // distance from the bottom to keep while older history is inserted
const shownSeqs = new Set();

function requestSync() {
  if (!openChat || syncing || !connected) return;
  syncing = true;
  syncedFrom = contig;
  send({ type: "sync", chat: openChat, after: contig });
}

function advanceContig() {
  while (shownSeqs.has(contig + 1)) contig += 1;
}

function messageNodes() {
  return list ? list.querySelectorAll("li.msg") : [];
}

function findById(id) {
  return list.querySelector(`li.msg[data-id="${Number(id)}"]`);
}

function findPending(clientId) {
  return list.querySelector(`li.msg.pending[data-client-id="${CSS.escape(clientId)}"]`);
}

function cloneTemplate() {
  const node = template.content.firstElementChild.cloneNode(true);
  node.removeAttribute("id");
  return node;
}

function setTime(node, iso) {
  const time = node.querySelector('[data-field="time"]');
  const d = parseDate(iso);
  if (!time || !d) return;
  time.setAttribute("datetime", iso);
  time.textContent = timeFmt.format(d);
  time.title = fullFmt.format(d);
}

function fillMessage(node, m) {
  node.classList.remove("pending", "failed");
  node.classList.add(m.sender === me ? "mine" : "theirs");
  node.classList.toggle("removed", Boolean(m.removed));
  node.id = `msg-${m.seq}`;
  node.dataset.seq = String(m.seq);
  node.dataset.id = String(m.id);
  node.dataset.clientId = m.client_id || "";
  node.dataset.sender = m.sender || "";
  node.querySelector('[data-field="sender"]').textContent = `${m.sender}:`;
  const text = node.querySelector('[data-field="body"]');
  text.textContent = m.removed ? "Message removed by a moderator" : m.body;
  delete text.dataset.linked;
  setTime(node, m.sent_at);
  node.querySelector(".msg-actions")?.remove();
  if (m.sender === me || m.removed) node.querySelector(".msg-menu")?.remove();
  else setReportForm(node, m.chat, m.seq);
  renderStatus(node);
}

function showRemoved(node) {
  node.classList.add("removed");
  const text = node.querySelector('[data-field="body"]');
  if (text) {
    text.textContent = "Message removed by a moderator";
    text.dataset.linked = "1";
  }
  node.querySelector(".msg-menu")?.remove();
}

// The <template>'s report form has no URL (see chats/_report.html): point it at this message,
// give its field a unique id, and let htmx see the new hx-post once the node is in the page.
function setReportForm(node, chat, seq) {
  const form = node.querySelector("form.report-form");
  if (!form) return;
  const url = `/chats/${Number(chat)}/messages/${Number(seq)}/report/`;
  form.action = url;
  form.setAttribute("hx-post", url);
  const field = form.querySelector("textarea");
  const label = form.querySelector("label");
  if (field) field.id = `report-reason-${Number(seq)}`;
  if (label && field) label.htmlFor = field.id;
  node.dataset.needsHtmx = "1";
}

function processHtmx(node) {
  if (!node.dataset.needsHtmx) return;
  delete node.dataset.needsHtmx;
  if (window.htmx) window.htmx.process(node);
}

function buildPending(item) {
  const node = cloneTemplate();
  node.classList.add("mine", "pending");
  node.querySelector(".msg-menu")?.remove();
  node.dataset.clientId = item.client_id;
  node.dataset.sender = me;
  node.querySelector('[data-field="sender"]').textContent = `${me}:`;
  node.querySelector('[data-field="body"]').textContent = item.body;
  setTime(node, new Date(item.at || Date.now()).toISOString());
  renderStatus(node);
  return node;
}

const STATUS = {
  sending: ["◷", "Sending"],
  sent: ["✓", "Sent"],
  delivered: ["✓✓", "Delivered"],
  read: ["✓✓", "Read"],
  failed: ["!", "Not sent"],
};

function statusOf(node) {
  if (node.classList.contains("failed")) return "failed";
  if (node.classList.contains("pending")) return "sending";
  const seq = Number(node.dataset.seq);
  if (seq <= peerRead) return "read";
  if (seq <= peerDelivered) return "delivered";
  return "sent";
}

function renderStatus(node) {
  if (!node.classList.contains("mine")) return;
  const slot = node.querySelector('[data-field="status"]');
  if (!slot) return;
  const kind = statusOf(node);
  if (slot.firstElementChild && slot.firstElementChild.dataset.status === kind) return;
  const [icon, label] = STATUS[kind];
  const tick = el("span", `tick ${kind}`);
  tick.dataset.status = kind;
  tick.title = label;
  const glyph = el("span", "tick-icon", icon);
  glyph.setAttribute("aria-hidden", "true");
  tick.append(glyph, " ", el("span", "tick-label", label));
  slot.replaceChildren(tick);
}

function renderStatuses() {
  for (const node of list.querySelectorAll("li.msg.mine")) renderStatus(node);
}

function place(node, seq) {
  // Before the first shown message with a higher seq, else before the pending ones, else last.
  let before = null;
  for (const other of messageNodes()) {
    if (other === node) continue;
    if (other.classList.contains("pending") || Number(other.dataset.seq) > seq) {
      before = other;
      break;
    }
  }
  if (before) {
    const prev = before.previousElementSibling;
    // Keep the "New messages" divider and day separators attached to the message they head.
    let anchor = before;
    if (prev && (prev.classList.contains("unread-divider") || prev.classList.contains("day-sep"))) {
      anchor = prev;
      const prev2 = prev.previousElementSibling;
      if (prev2 && prev2.classList.contains("day-sep")) anchor = prev2;
    }
    list.insertBefore(node, anchor);
  } else {
    list.append(node);
  }
}

function onOpenChatMessage(m) {
  if (findById(m.id)) return; // already shown: a sync replay or our own echo
  document.getElementById("no-messages")?.remove();
  const own = m.sender === me;
  const wasPinned = pinned;
  const reading = readingNow();
  let node = own && m.client_id ? findPending(m.client_id) : null;
  if (node) {
    outboxRemove(m.client_id);
    inflight.delete(m.client_id);
    fillMessage(node, m);
    node.remove();
  } else {
    node = cloneTemplate();
    fillMessage(node, m);
  }
  if (!own && !reading && !document.getElementById("unread-divider") && m.seq > contig) {
    const divider = unreadDivider();
    place(node, m.seq);
    list.insertBefore(divider, node);
  } else {
    place(node, m.seq);
  }
  processHtmx(node);
  shownSeqs.add(m.seq);
  const gap = m.seq > contig + 1;
  advanceContig();
  if (gap && m.seq > contig) requestSync();
  if (!own && typingUser === m.sender) hideTyping();
  decorate();
  if (wasPinned || own) scrollToBottom();
  else if (!own) pill.hidden = false;
  markRead();
}

function unreadDivider() {
  const divider = el("li", "unread-divider");
  divider.id = "unread-divider";
  divider.append(el("span", "unread-divider-text", "New messages"));
  return divider;
}

function highestSeq() {
  let high = 0;
  for (const seq of shownSeqs) high = Math.max(high, seq);
  return high;
}

function readingNow() {
  return Boolean(openChat && isVisible() && pinned);
}

function markRead() {
  if (!openChat) return;
  const seq = highestSeq();
  if (readingNow() && connected && seq > readSent) {
    if (send({ type: "read", chat: openChat, seq })) readSent = seq;
  }
  renderBadges();
}

// Day separators, sender grouping, local times and links, over the whole list (idempotent:
// separators that are already right stay, so the live region does not re-announce them).
function decorate() {
  if (!list) return;
  let prev = null;
  let prevDay = null;
  for (const node of messageNodes()) {
    const time = node.querySelector('[data-field="time"]');
    const d = parseDate(time && time.getAttribute("datetime"));
    if (time && d && !time.dataset.local) {
      time.textContent = timeFmt.format(d);
      time.title = fullFmt.format(d);
      time.dataset.local = "1";
    }
    const key = d ? dayKey(d) : prevDay;
    // The separators and the unread divider directly above this message.
    let dividerAbove = false;
    const seps = [];
    for (let h = node.previousElementSibling; h; h = h.previousElementSibling) {
      if (h.classList.contains("day-sep")) seps.push(h);
      else if (h.classList.contains("unread-divider")) dividerAbove = true;
      else break;
    }
    const needSep = Boolean(key && key !== prevDay);
    const keep = needSep ? seps.find((sep) => sep.dataset.day === key) : null;
    for (const sep of seps) if (sep !== keep) sep.remove();
    if (needSep && !keep) {
      const sep = el("li", "day-sep");
      sep.dataset.day = key;
      sep.append(el("span", "day-sep-text", dayLabel(d)));
      list.insertBefore(sep, firstHeader(node));
    } else if (keep) {
      // The server labels days in UTC and its own words: use the viewer's, changing the text
      // only when it differs (an unchanged separator is not announced again).
      const label = dayLabel(d);
      const text = keep.querySelector(".day-sep-text");
      if (text && text.textContent !== label) text.textContent = label;
      if (keep !== firstHeader(node)) list.insertBefore(keep, firstHeader(node)); // above the divider
    }
    const prevTime = prev ? parseDate(prev.querySelector('[data-field="time"]')?.getAttribute("datetime")) : null;
    const cont =
      prev &&
      key === prevDay &&
      !dividerAbove &&
      prev.dataset.sender === node.dataset.sender &&
      prevTime &&
      d &&
      d - prevTime < GROUP_GAP_MS;
    node.classList.toggle("cont", Boolean(cont));
    if (prev) prev.classList.toggle("group-end", !cont);
    linkify(node.querySelector('[data-field="body"]'));
    prev = node;
    prevDay = key;
  }
  if (prev) prev.classList.add("group-end");
  // A separator left with no message under it goes too.
  for (const sep of list.querySelectorAll("li.day-sep")) {
    let next = sep.nextElementSibling;
    while (next && (next.classList.contains("unread-divider") || next.classList.contains("day-sep"))) {
      next = next.nextElementSibling;
    }
    if (!next || !next.classList.contains("msg")) sep.remove();
  }
}

// The first of the separator/divider items directly above a message (or the message).
function firstHeader(node) {
  let top = node;
  for (let h = node.previousElementSibling; h; h = h.previousElementSibling) {
    if (!h.classList.contains("day-sep") && !h.classList.contains("unread-divider")) break;
    top = h;
  }
  return top;
}

const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;

function trimUrl(raw) {
  let url = raw.replace(/[.,;:!?'"»”’]+$/, "");
  // Keep a closing bracket only when the URL opened one, as in Wikipedia links.
  for (const [open, close] of [["(", ")"], ["[", "]"]]) {
    while (url.endsWith(close) && url.split(open).length < url.split(close).length) {
      url = url.slice(0, -1).replace(/[.,;:!?]+$/, "");
    }
  }
  return url;
}

function linkify(node) {
  if (!node || node.dataset.linked) return;
  node.dataset.linked = "1";
  const walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
  const texts = [];
  while (walker.nextNode()) texts.push(walker.currentNode);
  for (const textNode of texts) {
    const text = textNode.nodeValue;
    URL_RE.lastIndex = 0;
    if (!URL_RE.test(text)) continue;
    URL_RE.lastIndex = 0;
    const frag = document.createDocumentFragment();
    let last = 0;
    for (const match of text.matchAll(URL_RE)) {
      const raw = trimUrl(match[0]);
      let url;
      try {
        url = new URL(raw);
      } catch {
        continue;
      }
      if (url.protocol !== "http:" && url.protocol !== "https:") continue;
      frag.append(text.slice(last, match.index));
      const a = el("a", "msg-link", raw);
      a.href = url.href;
      a.rel = "noopener noreferrer";
      a.target = "_blank";
      frag.append(a);
      last = match.index + raw.length;
    }
    if (last === 0) continue;
    frag.append(text.slice(last));
    textNode.replaceWith(frag);
  }
}

// Scrolling: the message box scrolls when the stylesheet makes it a scroll container,
// otherwise the page does.
function scroller() {
  if (messagesBox) {
    const overflow = getComputedStyle(messagesBox).overflowY;
    if (overflow === "auto" || overflow === "scroll") return messagesBox;
  }
  return document.scrollingElement || document.documentElement;
}

function atBottom() {
  const s = scroller();
  return s.scrollHeight - s.scrollTop - s.clientHeight <= BOTTOM_SLACK_PX;
}

function scrollToBottom() {
  const s = scroller();
  s.scrollTop = s.scrollHeight;
  pinned = true;
  if (pill) pill.hidden = true;
}

function onScroll() {
  const now = atBottom();
  if (now === pinned) return;
  pinned = now;
  if (pinned) {
    if (pill) pill.hidden = true;
    markRead();
  } else {
    renderBadges();
  }
}

function initialScroll() {
  const divider = document.getElementById("unread-divider");
  if (divider) {
    const s = scroller();
    const top = s === messagesBox ? s.getBoundingClientRect().top : 0;
    s.scrollTop += divider.getBoundingClientRect().top - top - 8;
  } else {
    scrollToBottom();
  }
  pinned = atBottom();
}

// ---------------------------------------------------------------------------------------------
// Sending

function showComposerError(text) {
  if (!composerError) return;
  composerError.textContent = text;
  composerError.hidden = !text;
}

function sendFromComposer() {
  const text = textarea.value.trim();
  if (!text) return;
  const length = Array.from(text).length;
  if (length > MAX_BODY) {
    showComposerError(`A message can be at most ${MAX_BODY} characters; this one has ${length}.`);
    return;
  }
  showComposerError("");
  const item = { client_id: uuid(), chat: openChat, body: text, at: Date.now() };
  outboxAdd(item);
  document.getElementById("no-messages")?.remove();
  document.getElementById("unread-divider")?.remove();
  list.append(buildPending(item));
  decorate();
  textarea.value = "";
  autoGrow();
  textarea.focus();
  scrollToBottom();
  lastTypingSent = 0;
  flushOutbox();
}

function flushOutbox() {
  clearTimeout(flushTimer);
  flushTimer = null;
  if (!connected) return;
  for (const item of outboxLoad()) {
    if (inflight.has(item.client_id)) continue;
    const frame = { type: "send", chat: item.chat, client_id: item.client_id, body: item.body };
    if (!send(frame)) return;
    inflight.set(item.client_id, Date.now());
  }
}

function sendRefused(clientId, code, detail) {
  inflight.delete(clientId);
  if (!PERMANENT_ERRORS.has(code)) {
    // rate_limited, unavailable: the same client_id goes again shortly.
    if (!flushTimer) flushTimer = setTimeout(flushOutbox, RETRY_LATER_MS);
    return;
  }
  const item = outboxLoad().find((i) => i.client_id === clientId);
  outboxRemove(clientId);
  const node = list ? findPending(clientId) : null;
  if (!node) return;
  node.classList.add("failed");
  renderStatus(node);
  const actions = el("div", "msg-actions");
  actions.append(el("span", "msg-error", typeof detail === "string" ? detail : "Not sent."));
  const edit = el("button", "linkbutton msg-edit", "Edit");
  edit.type = "button";
  edit.addEventListener("click", () => {
    if (item) textarea.value = item.body;
    node.remove();
    autoGrow();
    textarea.focus();
    decorate();
  });
  const discard = el("button", "linkbutton msg-discard", "Discard");
  discard.type = "button";
  discard.addEventListener("click", () => {
    node.remove();
    textarea.focus();
    decorate();
  });
  actions.append(" ", edit, " ", discard);
  node.querySelector(".bubble").append(actions);
}

// A send without an ack for this long means the socket is half-open: start over.
setInterval(() => {
  if (!connected) return;
  const now = Date.now();
  for (const sentAt of inflight.values()) {
    if (now - sentAt > ACK_TIMEOUT_MS) {
      dropSocket();
      return;
    }
  }
}, 5000);

function autoGrow() {
  textarea.style.height = "auto";
  textarea.style.height = `${Math.min(textarea.scrollHeight, 200)}px`;
}

function restorePending() {
  for (const item of outboxLoad()) {
    if (item.chat !== openChat) continue;
    const stored = list.querySelector(`li.msg[data-client-id="${CSS.escape(item.client_id)}"]:not(.pending)`);
    if (stored) {
      outboxRemove(item.client_id); // stored before the reload; only the ack was lost
      continue;
    }
    if (findPending(item.client_id)) continue;
    document.getElementById("no-messages")?.remove();
    list.append(buildPending(item));
  }
}

// ---------------------------------------------------------------------------------------------
// Typing

let lastTypingSent = 0;
let typingUser = null;
let typingTimer = null;

function onComposerInput() {
  autoGrow();
  if (!textarea.value.trim()) return;
  const now = Date.now();
  if (now - lastTypingSent >= TYPING_EVERY_MS && send({ type: "typing", chat: openChat })) {
    lastTypingSent = now;
  }
}

function showTyping(user) {
  typingUser = user;
  typingEl.textContent = `${user} is typing…`;
  clearTimeout(typingTimer);
  typingTimer = setTimeout(hideTyping, TYPING_SHOWN_MS);
}

function hideTyping() {
  typingUser = null;
  clearTimeout(typingTimer);
  if (typingEl) typingEl.textContent = "";
}

// ---------------------------------------------------------------------------------------------
// Toasts: one per chat (grouped), at most TOAST_MAX, then one summary.

const toastBox = document.getElementById("toasts");
const toasts = new Map(); // chat id (or "more") -> {node, count, timer, ...}

function toast(m) {
  if (!toastBox) return;
  let t = toasts.get(m.chat);
  if (!t && toasts.size >= TOAST_MAX) {
    moreToast(m);
    return;
  }
  if (!t) {
    t = makeToast(m.chat, `/chats/${Number(m.chat)}/`);
    toasts.set(m.chat, t);
  }
  t.count += 1;
  t.sender.textContent = m.sender;
  t.extra.textContent = t.count > 1 ? ` · ${t.count} new messages` : "";
  t.preview.textContent = m.removed ? "Message removed" : truncate(m.body, 120);
  armToast(m.chat, t);
}

function moreToast(m) {
  let t = toasts.get("more");
  if (!t) {
    t = makeToast("more", "/chats/");
    t.chats = new Set();
    toasts.set("more", t);
  }
  t.count += 1;
  t.chats.add(m.chat);
  t.sender.textContent = "More new messages";
  const chats = t.chats.size === 1 ? "1 more chat" : `${t.chats.size} more chats`;
  t.extra.textContent = "";
  t.preview.textContent = `${t.count} new ${t.count === 1 ? "message" : "messages"} in ${chats}`;
  armToast("more", t);
}

function makeToast(key, href) {
  const node = el("div", "toast");
  const link = el("a", "toast-link");
  link.href = href;
  const head = el("span", "toast-head");
  const sender = el("strong", "toast-sender");
  const extra = el("span", "toast-count");
  head.append(sender, extra);
  const preview = el("span", "toast-preview");
  link.append(head, preview);
  const close = el("button", "toast-close");
  close.type = "button";
  close.setAttribute("aria-label", "Dismiss notification");
  const cross = el("span", "", "×");
  cross.setAttribute("aria-hidden", "true");
  close.append(cross);
  close.addEventListener("click", () => dismissToast(key));
  node.append(link, close);
  const t = { node, sender, extra, preview, count: 0, timer: null, held: false };
  // Hovering or focusing a toast keeps it until the pointer or focus leaves.
  node.addEventListener("mouseenter", () => holdToast(key, true));
  node.addEventListener("mouseleave", () => holdToast(key, false));
  node.addEventListener("focusin", () => holdToast(key, true));
  node.addEventListener("focusout", () => holdToast(key, false));
  toastBox.append(node);
  return t;
}

function armToast(key, t) {
  clearTimeout(t.timer);
  if (!t.held) t.timer = setTimeout(() => dismissToast(key), TOAST_MS);
}

function holdToast(key, held) {
  const t = toasts.get(key);
  if (!t) return;
  t.held = held;
  armToast(key, t);
}

function dismissToast(key) {
  const t = toasts.get(key);
  if (!t) return;
  clearTimeout(t.timer);
  const hadFocus = t.node.contains(document.activeElement);
  t.node.remove();
  toasts.delete(key);
  if (hadFocus && textarea) textarea.focus();
}

function dismissAllToasts() {
  for (const key of [...toasts.keys()]) dismissToast(key);
}

// ---------------------------------------------------------------------------------------------
// Browser notifications: opt-in per device from the profile page's toggle; the permission is
// asked only when the user turns the toggle on, and notifications show only while the tab is
// hidden (a visible tab has its toasts). One per chat: a newer message replaces the older one.

const NOTIFY_KEY = `chatsite:notify:${myId}`;

function notifySupported() {
  return "Notification" in window;
}

function notifyWanted() {
  try {
    return localStorage.getItem(NOTIFY_KEY) === "on";
  } catch {
    return false;
  }
}

function setNotifyWanted(on) {
  try {
    if (on) localStorage.setItem(NOTIFY_KEY, "on");
    else localStorage.removeItem(NOTIFY_KEY);
  } catch {
    // Storage disabled: the toggle cannot be remembered.
  }
}

function notify(m) {
  if (!notifySupported() || !notifyWanted() || Notification.permission !== "granted") return;
  try {
    const n = new Notification(m.sender, {
      body: m.removed ? "Message removed" : truncate(m.body, 120),
      tag: `chatsite-chat-${Number(m.chat)}`,
    });
    n.addEventListener("click", () => {
      window.focus();
      if (m.chat !== openChat) location.assign(`/chats/${Number(m.chat)}/`);
      n.close();
    });
  } catch {
    // Some browsers only allow notifications from a service worker: the toast still shows.
  }
}

function initNotifySettings() {
  const box = document.getElementById("notify-settings");
  const toggle = document.getElementById("notify-toggle");
  const status = document.getElementById("notify-status");
  if (!box || !toggle || !notifySupported()) return;
  const say = (text) => {
    if (status) status.textContent = text;
  };
  const blocked = "Notifications are blocked for this site in your browser's settings.";
  box.hidden = false;
  toggle.checked = notifyWanted() && Notification.permission === "granted";
  if (notifyWanted() && Notification.permission === "denied") say(blocked);
  toggle.addEventListener("change", async () => {
    if (!toggle.checked) {
      setNotifyWanted(false);
      say("Browser notifications are off.");
      return;
    }
    let permission = Notification.permission;
    if (permission === "default") {
      try {
        permission = await Notification.requestPermission();
      } catch {
        permission = "denied";
      }
    }
    if (permission === "granted") {
      setNotifyWanted(true);
      say("Browser notifications are on for this device.");
    } else {
      toggle.checked = false;
      setNotifyWanted(false);
      say(permission === "denied" ? blocked : "Notifications were not allowed.");
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Message menus (<details>): one open at a time; Escape or a click elsewhere closes it.

function closeMenus(except) {
  for (const menu of document.querySelectorAll("details.msg-menu[open]")) {
    if (menu !== except) menu.open = false;
  }
}

function initMenus() {
  document.addEventListener(
    "toggle",
    (event) => {
      const menu = event.target;
      if (!(menu instanceof HTMLDetailsElement) || !menu.open) return;
      if (menu.classList.contains("msg-menu")) closeMenus(menu);
      // An opened menu (or its report form) near the bottom scrolls into view.
      const panel = menu.closest(".msg-menu")?.querySelector(".msg-menu-panel");
      if (panel) panel.scrollIntoView({ block: "nearest" });
    },
    true,
  );
  document.addEventListener("click", (event) => {
    if (!event.target.closest || !event.target.closest("details.msg-menu")) closeMenus(null);
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const menu = event.target.closest ? event.target.closest("details.msg-menu[open]") : null;
    if (menu) {
      menu.open = false;
      menu.querySelector("summary")?.focus();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Wiring

function initChatPage() {
  peerRead = Number(chatEl.dataset.peerReadSeq) || 0;
  peerDelivered = Math.max(Number(chatEl.dataset.peerDeliveredSeq) || 0, peerRead);
  readSent = Number(chatEl.dataset.readSeq) || 0;
  for (const node of messageNodes()) {
    const seq = Number(node.dataset.seq);
    const id = Number(node.dataset.id);
    if (seq) shownSeqs.add(seq);
    if (id) seenIds.add(id);
  }
  contig = highestSeq();
  // "New messages" divider at the first unread message from the other member.
  for (const node of messageNodes()) {
    if (Number(node.dataset.seq) > readSent && node.dataset.sender !== me) {
      list.insertBefore(unreadDivider(), node);
      break;
    }
  }
  restorePending();
  decorate();
  renderStatuses();
  initialScroll();

  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    sendFromComposer();
  });
  textarea.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) return;
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    event.preventDefault();
    sendFromComposer();
  });
  textarea.addEventListener("input", onComposerInput);
  pill.addEventListener("click", () => {
    scrollToBottom();
    markRead();
    textarea.focus();
  });
  messagesBox.addEventListener("scroll", onScroll, { passive: true });
  window.addEventListener("scroll", onScroll, { passive: true });
  window.addEventListener("resize", () => {
    if (pinned) scrollToBottom();
  });

  // Older history arrives as an htmx partial at the top: keep what the reader sees in place.
  body.addEventListener("htmx:beforeSwap", (event) => {
    if (event.detail.target && event.detail.target.id === "load-older") {
      const s = scroller();
      olderAnchor = s.scrollHeight - s.scrollTop;
    }
  });
  const olderFailed = (event) => {
    const older = document.getElementById("load-older");
    if (!older || !event.detail.elt || !older.contains(event.detail.elt)) return;
    older.classList.add("failed");
    const link = older.querySelector("a");
    if (link) link.textContent = "Couldn't load older messages. Try again";
  };
  body.addEventListener("htmx:responseError", olderFailed);
  body.addEventListener("htmx:sendError", olderFailed);
  const observer = new MutationObserver((records) => {
    const added = records.some((r) =>
      [...r.addedNodes].some((n) => n.nodeType === 1 && n.classList.contains("msg")),
    );
    if (!added) return;
    for (const node of messageNodes()) {
      const id = Number(node.dataset.id);
      if (id) seenIds.add(id);
      const seq = Number(node.dataset.seq);
      if (seq) shownSeqs.add(seq);
    }
    decorate();
    renderStatuses();
    if (olderAnchor !== null) {
      const s = scroller();
      s.scrollTop = s.scrollHeight - olderAnchor;
      olderAnchor = null;
    }
    observer.takeRecords();
  });
  observer.observe(list, { childList: true });
  // Ready to type on desktop; on touch screens a keyboard popping up on open is a nuisance.
  if (window.matchMedia("(pointer: fine)").matches) textarea.focus({ preventScroll: true });
}

function init() {
  if (!me) return;
  initNotifySettings();
  initMenus();
  readBadgesFromPage();
  decorateChatList();
  if (chatEl && list && template && composer && textarea) initChatPage();
  renderBadges();

  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && toasts.size) dismissAllToasts();
  });
  document.addEventListener("visibilitychange", () => {
    if (isVisible()) {
      if (!ws) reconnectNow();
      markRead();
    } else {
      renderBadges();
    }
  });
  window.addEventListener("online", reconnectNow);
  window.addEventListener("offline", () => {
    // The socket would hang until a timeout: drop it now and say so.
    if (ws) dropSocket();
    else showReconnecting();
  });
  window.addEventListener("pagehide", () => {
    unloading = true;
  });
  window.addEventListener("pageshow", (event) => {
    unloading = false;
    if (event.persisted) reconnectNow();
  });
  document.querySelectorAll('form[action="/accounts/logout/"]').forEach((form) => {
    // Unsent drafts are private: they do not outlive an explicit logout on this browser.
    form.addEventListener("submit", () => outboxSave([]));
  });
  setInterval(() => {
    decorateChatList();
    renderPresence();
  }, 30000);
  connect();
}

init();

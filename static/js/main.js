// Chatsite browser client, the entry module: routes the socket's frames to the modules that
// own each part of the page, and wires the page's events. One WebSocket per tab carries every
// chat of the user (docs/protocol.md).
//
// The server is the truth: this client shows what it is told (messages, unread counts,
// presence), keeps unsent messages until the server acks them, and catches the open chat up
// after every (re)connect, also when the chat is switched in place (switcher.js). User text only ever reaches the DOM through textContent or
// DOM-built links, never as markup. No inline scripts, no eval: safe under a strict
// Content-Security-Policy. Modules: docs/architecture.md, "The browser client".

import * as actions from "./actions.js";
import * as chatlist from "./chatlist.js";
import * as composer from "./composer.js";
import * as drafts from "./drafts.js";
import * as menus from "./menus.js";
import * as mutes from "./mutes.js";
import * as outbox from "./outbox.js";
import * as presence from "./presence.js";
import * as receipts from "./receipts.js";
import * as renames from "./renames.js";
import * as scroll from "./scroll.js";
import * as searchscope from "./searchscope.js";
import * as socket from "./socket.js";
import * as switcher from "./switcher.js";
import * as thread from "./thread.js";
import * as toasts from "./toasts.js";
import { isInt, isVisible, me, openChat } from "./util.js";

// The chat whose panel the modules are set up for (null when none is open).
let shown = null;
const showing = (chat) => shown !== null && chat === shown;
const seenIds = new Set(); // messages this tab has announced (or shows)
// chat -> the highest seq this tab has shown (from the page's chat list, then from frames):
// a frame at or below it is a change (an edit, a reaction...), never news to announce.
const lastSeqs = new Map();

function newMessage(m) {
  if (!lastSeqs.has(m.chat)) {
    const item = document.querySelector(`li.chatitem[data-chat-id="${Number(m.chat)}"]`);
    lastSeqs.set(m.chat, Number(item?.dataset.lastSeq) || 0);
  }
  const later = m.seq > lastSeqs.get(m.chat);
  if (later) lastSeqs.set(m.chat, m.seq);
  return later && !m.removed && !m.deleted;
}

socket.setHandlers({
  hello(f) {
    const chats = (Array.isArray(f.chats) ? f.chats : []).filter((c) => isInt(c.id));
    chatlist.setAllCounts(chats, f.unread_total);
    let missing = false;
    for (const c of chats) {
      if (c.peer && c.peer_status) presence.setPresence(c.peer, c.peer_status, c.peer_last_seen);
      if (!chatlist.hasItem(c.id)) missing = true;
    }
    presence.renderPresence();
    if (missing) chatlist.refresh();
    thread.serverVersions(chats.some((c) => isInt(c.version)));
    if (shown !== null) thread.connected(chats.find((c) => c.id === shown));
    outbox.flush();
  },

  message(f) {
    const m = f.message;
    if (!m || !isInt(m.chat) || !isInt(m.seq) || !isInt(m.id)) return;
    // A new message is announced once; a new state of one (an edit, a removal) is not news.
    const fresh = newMessage(m) && !seenIds.has(m.id) && !(shown !== null && thread.showsId(m.id));
    seenIds.add(m.id);
    if (showing(m.chat)) thread.receive(m);
    chatlist.bump(m);
    if (!fresh || m.sender === me) return;
    if (!(showing(m.chat) && isVisible())) toasts.toast(m);
    if (!isVisible()) toasts.notify(m);
  },

  ack(f) {
    if (typeof f.client_id !== "string") return;
    outbox.settle(f.client_id);
    const m = f.message;
    if (!m || !isInt(m.chat) || !isInt(m.seq)) return;
    if (isInt(m.id)) seenIds.add(m.id);
    if (showing(m.chat) && isInt(m.id)) thread.receive(m);
    chatlist.bump(m);
  },

  synced(f) {
    if (showing(f.chat)) thread.synced(f);
  },

  unread(f) {
    if (isInt(f.chat)) chatlist.setCount(f.chat, f.unread, f.unread_total);
  },

  read(f) {
    if (showing(f.chat) && f.user !== me && isInt(f.seq)) receipts.peerReadTo(f.seq);
  },

  delivered(f) {
    if (showing(f.chat) && f.user !== me && isInt(f.seq)) {
      receipts.peerDeliveredTo(f.seq);
    }
  },

  muted(f) {
    if (isInt(f.chat) && typeof f.muted === "boolean") mutes.setMuted(f.chat, f.muted);
  },

  typing(f) {
    if (showing(f.chat) && f.user && f.user !== me) presence.showTyping(f.user);
  },

  presence(f) {
    if (typeof f.user !== "string") return;
    presence.setPresence(f.user, f.status, f.last_seen);
    presence.renderPresence();
  },

  renamed(f) {
    renames.renamed(f);
  },

  message_removed(f) {
    if (!isInt(f.chat) || !isInt(f.seq)) return;
    if (showing(f.chat)) thread.removedBySeq(f.seq, f.id);
    chatlist.removed(f.chat, f.seq);
  },

  error(f) {
    if (typeof f.client_id === "string" && f.client_id) {
      const retryAfter = typeof f.retry_after === "number" ? f.retry_after : undefined;
      const dropped = outbox.refused(f.client_id, { code: f.code, detail: f.detail, retryAfter });
      if (dropped && shown !== null) composer.showFailed(dropped, f.detail);
      return;
    }
    if (shown !== null && isInt(f.seq)) {
      actions.refused(f); // an edit, delete or react
      return;
    }
    if (shown !== null) thread.refused(f.code, f.retry_after);
    console.warn("chatsite: server refused a frame:", f.code, f.detail);
  },
});

socket.onGone(() => {
  if (shown !== null) thread.connectionLost();
});

// The panel in the page is a chat's: set its modules up (at load, and after a switch).
function enterChat() {
  shown = null;
  const chat = openChat();
  const complete = ["message-list", "message-template", "composer", "composer-body"].every((id) =>
    document.getElementById(id),
  );
  if (chat === null || !complete) return;
  shown = chat;
  presence.reset();
  scroll.bind();
  thread.init();
  composer.init();
  actions.init();
  menus.bindConfirms();
  presence.renderPresence();
}

// The panel is about to be swapped out: what depends on it ends while it is still there (an
// edit in progress gives the composer its draft back).
function leaveChat() {
  if (shown === null) return;
  actions.cancelMode();
  thread.connectionLost();
  presence.reset();
  shown = null;
}

// Listeners on the page itself, once, whichever panel is in the slot.
function listenToPage() {
  scroll.listen();
  const body = document.body;
  body.addEventListener("htmx:beforeSwap", (event) => {
    if (event.detail.target && event.detail.target.id === "load-older") scroll.holdBeforeOlder();
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
}

function init() {
  if (!me) return;
  toasts.initNotifySettings();
  toasts.offerNotifications();
  menus.init();
  searchscope.init();
  chatlist.readCountsFromPage();
  chatlist.decorate();
  listenToPage();
  enterChat();
  switcher.init({
    leave: leaveChat,
    enter() {
      enterChat();
      if (shown !== null) thread.switched();
    },
  });
  chatlist.renderBadges();

  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") toasts.dismissAll();
  });
  document.addEventListener("visibilitychange", () => {
    if (!isVisible()) return;
    if (!socket.isOpen()) socket.reconnectNow();
    if (shown !== null) thread.markRead();
  });
  window.addEventListener("online", socket.reconnectNow);
  // The socket would hang until a timeout: drop it now and say so.
  window.addEventListener("offline", socket.dropSocket);
  window.addEventListener("pagehide", () => socket.setUnloading(true));
  window.addEventListener("pageshow", (event) => {
    socket.setUnloading(false);
    if (event.persisted) socket.reconnectNow();
  });
  for (const form of document.querySelectorAll('form[action="/accounts/logout/"]')) {
    form.addEventListener("submit", () => outbox.clear());
  }
  setInterval(() => {
    chatlist.decorate();
    presence.renderPresence();
  }, 30000);
  socket.connect();
}

init();

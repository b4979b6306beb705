// The chat list (#chatlist) and the unread badges: per chat in the list, the total in the top
// bar and the document title. Counts are the server's (the page, hello and `unread` frames);
// the list itself comes back from the server as a partial when it shows a chat it lacks.

import * as favicon from "./favicon.js";
import { renderPresence } from "./presence.js";
import { el, fullFmt, isInt, listTime, me, openChat, parseDate, truncate } from "./util.js";

const totalBadge = document.getElementById("unread-total");
let baseTitle = document.title.replace(/^\(\d+\)\s*/, "");

const unread = new Map(); // chat id -> the server's count
let unreadTotal = 0;
let listRefresh = null;
let listRefreshAgain = false;

function listEl() {
  return document.getElementById("chatlist");
}

export function hasItem(chatId) {
  return Boolean(chatItem(chatId));
}

function chatItem(chatId) {
  const list = listEl();
  return list ? list.querySelector(`li.chatitem[data-chat-id="${Number(chatId)}"]`) : null;
}

// Unread counts

// What the page was rendered with: each chat's badge and the total on the list.
export function readCountsFromPage() {
  const list = listEl();
  if (!list) return;
  adoptBadges(list);
  const total = Number(list.dataset.unreadTotal);
  if (isInt(total)) unreadTotal = total;
}

function adoptBadges(list) {
  for (const badge of list.querySelectorAll('li.chatitem [data-field="unread"]')) {
    const id = Number(badge.closest("li.chatitem").dataset.chatId);
    if (!unread.has(id)) unread.set(id, Number(badge.dataset.count) || 0);
  }
}

// hello: every chat's count and the total, replacing what was known.
export function setAllCounts(chats, total) {
  unread.clear();
  for (const c of chats) unread.set(c.id, isInt(c.unread) ? c.unread : 0);
  unreadTotal = isInt(total) ? total : 0;
  renderBadges();
}

// An `unread` frame: one chat's count and the new total.
export function setCount(chatId, count, total) {
  unread.set(chatId, isInt(count) ? count : 0);
  if (isInt(total)) unreadTotal = total;
  renderBadges();
}

function setBadge(badge, count) {
  if (!badge) return;
  badge.dataset.count = String(count);
  badge.replaceChildren(String(count), el("span", "visually-hidden", " unread"));
  badge.hidden = count === 0;
}

export function renderBadges() {
  const list = listEl();
  if (list) {
    for (const item of list.querySelectorAll("li.chatitem")) {
      const id = Number(item.dataset.chatId);
      if (unread.has(id)) setBadge(item.querySelector('[data-field="unread"]'), unread.get(id));
    }
  }
  if (totalBadge) {
    totalBadge.dataset.count = String(unreadTotal);
    totalBadge.textContent = String(unreadTotal);
    totalBadge.setAttribute("aria-label", `${unreadTotal} unread`);
    totalBadge.hidden = unreadTotal === 0;
  }
  document.title = unreadTotal > 0 ? `(${unreadTotal}) ${baseTitle}` : baseTitle;
  favicon.show(unreadTotal);
}

// The open chat's item is marked current (a chat was switched in place, or the list renewed).
export function markCurrent(chatId) {
  const list = listEl();
  if (!list) return;
  for (const item of list.querySelectorAll("li.chatitem")) {
    const current = Number(item.dataset.chatId) === chatId;
    item.classList.toggle("current", current);
    const link = item.querySelector("a");
    if (current) link?.setAttribute("aria-current", "page");
    else link?.removeAttribute("aria-current");
  }
}

// The page's title without the unread count (the panel switched in names its chat).
export function setBaseTitle(title) {
  if (!title) return;
  baseTitle = title;
  renderBadges();
}

// A renamed peer: the chat page's title names them.
export function renameInTitle(old, name) {
  if (!baseTitle.startsWith(`${old} ·`)) return;
  baseTitle = name + baseTitle.slice(old.length);
  renderBadges();
}

// Items: live preview, time and order

export function bump(m) {
  const list = listEl();
  if (!list) return;
  const item = chatItem(m.chat);
  if (!item) {
    refresh();
    return;
  }
  const last = Number(item.dataset.lastSeq) || 0;
  if (m.seq < last) return;
  // A new state of the last message (a removal) changes its preview, not the chat's place.
  const news = m.seq > last;
  item.dataset.lastSeq = String(m.seq);
  const preview = item.querySelector('[data-field="preview"]');
  if (preview) {
    const gone = m.removed || m.deleted;
    const text = m.removed ? "Message removed" : m.deleted ? "Message deleted" : truncate(m.body, 80);
    preview.textContent = m.sender === me && !gone ? `You: ${text}` : text;
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
  if (news && list.firstElementChild !== item) list.prepend(item);
}

// A moderator removed a message (the old `message_removed` frame): the preview if it was last.
export function removed(chatId, seq) {
  const item = chatItem(chatId);
  if (item && Number(item.dataset.lastSeq) === seq) {
    const preview = item.querySelector('[data-field="preview"]');
    if (preview) preview.textContent = "Message removed";
  }
}

// The list partial from the server (GET /chats/ as htmx asks for it: chats/list.html#chatlist).
export async function refresh() {
  if (!listEl()) return;
  if (listRefresh) {
    listRefreshAgain = true;
    return;
  }
  listRefresh = (async () => {
    try {
      const response = await fetch("/chats/", {
        credentials: "same-origin",
        headers: { Accept: "text/html", "HX-Request": "true" },
      });
      if (!response.ok) return;
      const holder = document.createElement("template");
      holder.innerHTML = await response.text();
      const fresh = holder.content.getElementById("chatlist");
      const current = listEl();
      if (!fresh || !current) return;
      adoptBadges(fresh);
      const list = document.importNode(fresh, true);
      current.replaceWith(list);
      markCurrent(openChat());
      if (window.htmx) window.htmx.process(list); // its links switch chats in place

      decorate();
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
    refresh();
  }
}

// Local times on the items (the server writes UTC).
export function decorate() {
  const list = listEl();
  if (!list) return;
  for (const when of list.querySelectorAll("time.when")) {
    const d = parseDate(when.getAttribute("datetime"));
    if (d) {
      when.textContent = listTime(d);
      when.title = fullFmt.format(d);
    }
  }
}

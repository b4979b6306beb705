// Presence (a dot and "last seen" in the chat header and the chat list) and typing (the
// peer's indicator, and this user's throttled `typing` frames).

import * as socket from "./socket.js";
import { agoText, el, fullFmt, openChat, parseDate } from "./util.js";

const TYPING_EVERY_MS = 3000;
const TYPING_SHOWN_MS = 6000;

const presence = new Map(); // username -> {status, lastSeen}
let typingUser = null;
let typingTimer = null;
let lastTypingSent = 0;

export function setPresence(user, status, lastSeen) {
  presence.set(user, { status: typeof status === "string" ? status : "", lastSeen: parseDate(lastSeen) });
}

// "Online", "Last seen 5 minutes ago", "Offline"; null when hidden or not known yet.
function presenceText(p) {
  if (!p || (p.status !== "online" && p.status !== "offline")) return null;
  if (p.status === "online") return "Online";
  return p.lastSeen ? `Last seen ${agoText(p.lastSeen)}` : "Offline";
}

// A renamed user keeps their presence under the new name.
export function rename(old, name) {
  if (presence.has(old)) presence.set(name, presence.get(old));
  presence.delete(old);
  if (typingUser === old) showTyping(name);
}

export function renderPresence() {
  const header = document.getElementById("presence");
  const peer = header ? header.dataset.user : null;
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
  const listEl = document.getElementById("chatlist");
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

// Typing

export function showTyping(user) {
  const typingEl = document.getElementById("typing");
  if (!typingEl) return;
  typingUser = user;
  typingEl.textContent = `${user} is typing…`;
  clearTimeout(typingTimer);
  typingTimer = setTimeout(hideTyping, TYPING_SHOWN_MS);
}

export function hideTyping() {
  typingUser = null;
  clearTimeout(typingTimer);
  const typingEl = document.getElementById("typing");
  if (typingEl) typingEl.textContent = "";
}

// Another chat is switched in: nobody is typing in it yet, and this user's next keystroke
// there is announced at once.
export function reset() {
  hideTyping();
  lastTypingSent = 0;
}

// The peer's message has arrived: they are no longer typing it.
export function messageFrom(sender) {
  if (typingUser === sender) hideTyping();
}

// The user typed in the composer: tell the peer, at most every TYPING_EVERY_MS.
export function typed() {
  const now = Date.now();
  if (now - lastTypingSent >= TYPING_EVERY_MS && socket.send({ type: "typing", chat: openChat() })) {
    lastTypingSent = now;
  }
}

// A message went: the next keystroke announces typing again at once.
export function sent() {
  lastTypingSent = 0;
}

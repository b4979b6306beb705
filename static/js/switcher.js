// Switching chats in place. The chat list's links hx-get a chat's panel into #chat-slot and
// push its URL (chats/list.html); back and forward have htmx fetch that URL again (its
// history cache is off: base.html) and fill the slot from the page. The tab keeps its one
// socket: this module tells main.js when a panel is about to leave and when a new one is in,
// and keeps the page around the slot in step: the layout (a phone shows the list or the
// chat), the list's current item, the title, focus, and an announcement for screen readers.
// A response that is not the panel asked for (signed out: the login page) or an error loads
// the address as a whole page instead.

import * as chatlist from "./chatlist.js";
import { el, openChat } from "./util.js";

let announcer = null;
let left = null; // the chat whose panel was swapped out last

function slot() {
  return document.getElementById("chat-slot");
}

function pathOf(url) {
  const u = new URL(url, location.href);
  return u.pathname + u.search;
}

// Phones show one screen at a time: the chat when one is open, else the list.
function layout(open) {
  const main = document.querySelector("main.chat-layout");
  if (!main) return;
  main.classList.toggle("show-chat", open);
  main.classList.toggle("show-list", !open);
}

function announce(text) {
  if (!announcer) return;
  announcer.textContent = "";
  // A fresh text node after a tick is announced even when the text repeats.
  setTimeout(() => {
    announcer.textContent = text;
  }, 50);
}

// Focus follows the switch, so that a keyboard or screen-reader user starts in the new chat:
// the composer on a desktop pointer (as on a page load), else the chat's heading (on a touch
// screen a keyboard popping up is a nuisance).
function moveFocus() {
  const box = document.getElementById("composer-body");
  if (box && !box.disabled && window.matchMedia("(pointer: fine)").matches) {
    box.focus({ preventScroll: true });
    return;
  }
  const heading = document.getElementById("peer-name");
  if (!heading) return;
  heading.tabIndex = -1;
  heading.focus({ preventScroll: true });
}

export function init({ leave, enter }) {
  const body = document.body;
  if (!slot()) return;
  announcer = el("p", "visually-hidden");
  announcer.id = "chat-announcer";
  announcer.setAttribute("role", "status");
  announcer.setAttribute("aria-live", "polite");
  body.append(announcer);

  body.addEventListener("htmx:beforeRequest", (event) => {
    const detail = event.detail;
    if (detail.target !== slot() || !detail.requestConfig) return;
    // The chat already open: nothing to load, no history entry; just go to it.
    if (pathOf(detail.requestConfig.path) !== location.pathname + location.search) return;
    event.preventDefault();
    if (openChat() !== null) moveFocus();
  });
  body.addEventListener("htmx:beforeSwap", (event) => {
    const detail = event.detail;
    if (detail.target !== slot() || !detail.shouldSwap) return;
    const { requestPath, responsePath } = detail.pathInfo || {};
    if (responsePath && requestPath && responsePath !== pathOf(requestPath)) {
      detail.shouldSwap = false;
      location.assign(responsePath);
      return;
    }
    left = openChat();
    leave();
  });
  body.addEventListener("htmx:historyCacheMissLoad", (event) => {
    if (event.detail.historyElt !== slot()) return;
    left = openChat();
    leave();
  });
  const failed = (event) => {
    const detail = event.detail;
    if (detail.target === slot() && detail.pathInfo) location.assign(detail.pathInfo.requestPath);
  };
  body.addEventListener("htmx:responseError", failed);
  body.addEventListener("htmx:sendError", failed);
  body.addEventListener("htmx:historyCacheMissLoadError", (event) => location.assign(event.detail.path));
  body.addEventListener("htmx:afterSwap", (event) => {
    if (event.target !== slot()) return;
    const chat = openChat();
    const panel = slot().querySelector(".chat-panel");
    layout(chat !== null);
    chatlist.markCurrent(chat);
    // After htmx is done: a history restore sets the page's title (without the count) last.
    queueMicrotask(() => chatlist.setBaseTitle(panel?.dataset.title));
    enter();
    if (chat !== null) {
      moveFocus();
      announce(panel.getAttribute("aria-label") || "");
    } else {
      // Back to the list (a phone's "Chats" link): where the reader left it.
      document.querySelector(`#chatlist li.chatitem[data-chat-id="${Number(left)}"] a`)?.focus();
      announce("No chat open");
    }
  });
}

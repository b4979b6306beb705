// Toasts (one per chat, grouped, at most TOAST_MAX, then one summary) and browser
// notifications (opt-in per device, only while the tab is hidden).

import { el, myId, openChat, truncate } from "./util.js";

const TOAST_MS = 6000;
const TOAST_MAX = 3;
const NOTIFY_KEY = `chatsite:notify:${myId}`;

const toastBox = document.getElementById("toasts");
const toasts = new Map(); // chat id (or "more") -> {node, count, timer, ...}

export function toast(m) {
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
  const composer = document.getElementById("composer-body");
  if (hadFocus && composer) composer.focus();
}

// Escape dismisses them all; returns whether there were any.
export function dismissAll() {
  if (!toasts.size) return false;
  for (const key of [...toasts.keys()]) dismissToast(key);
  return true;
}

// Browser notifications: the permission is asked only when the user turns the profile page's
// toggle on. One per chat: a newer message replaces the older one.

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

export function notify(m) {
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

export function initNotifySettings() {
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

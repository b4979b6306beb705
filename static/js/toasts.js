// Toasts (one per chat, grouped, at most TOAST_MAX, then one summary, with a short sound when
// the profile asks for one) and browser notifications (opt-in per device, only while the tab
// is hidden, offered once in a dismissible banner over the chat list). A muted chat gets
// none of them.

import { isMuted } from "./mutes.js";
import { el, myId, openChat, truncate } from "./util.js";

const TOAST_MS = 6000;
const TOAST_MAX = 3;
const NOTIFY_KEY = `chatsite:notify:${myId}`;
const OFFERED_KEY = `chatsite:notify-offered:${myId}`;
const soundOn = document.body.dataset.toastSound === "1";
let audio = null;

const toastBox = document.getElementById("toasts");
const toasts = new Map(); // chat id (or "more") -> {node, count, timer, ...}

export function toast(m) {
  if (!toastBox || isMuted(m.chat)) return;
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
  chime();
}

// A short, quiet two-note chime, made on the spot (no file to fetch).
function chime() {
  if (!soundOn) return;
  try {
    audio = audio || new AudioContext();
    const start = audio.currentTime;
    const gain = audio.createGain();
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.08, start + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.3);
    gain.connect(audio.destination);
    for (const [freq, at] of [[880, 0], [1320, 0.09]]) {
      const tone = audio.createOscillator();
      tone.frequency.value = freq;
      tone.connect(gain);
      tone.start(start + at);
      tone.stop(start + 0.3);
    }
  } catch {
    // No audio (or not allowed before the first interaction): the toast still shows.
  }
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
  link.addEventListener("click", (event) => {
    // The chat list's link to that chat switches in place (switcher.js); else a page load.
    const inList = document.querySelector(`#chatlist a[href="${CSS.escape(link.getAttribute("href"))}"]`);
    if (!inList || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    dismissToast(key);
    inList.click();
  });
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

function storedFlag(key) {
  try {
    return localStorage.getItem(key) === "1";
  } catch {
    return true; // nowhere to remember an answer: do not ask on every page
  }
}

// The chat list offers notifications once: "Turn on" asks the browser, "Not now" and the
// close button put the offer away for good on this device (the profile keeps the toggle).
export function offerNotifications() {
  const list = document.getElementById("chatlist");
  if (!list || !notifySupported() || Notification.permission !== "default") return;
  if (notifyWanted() || storedFlag(OFFERED_KEY)) return;
  const banner = el("section", "notify-offer");
  banner.setAttribute("aria-label", "Notifications");
  const question = "Get a notification when a message arrives while Chatsite is in the background?";
  banner.append(el("p", "notify-offer-text", question));
  const done = () => {
    try {
      localStorage.setItem(OFFERED_KEY, "1");
    } catch {
      // the banner goes away for this page anyway
    }
    banner.remove();
  };
  const yes = el("button", "button small", "Turn on");
  yes.type = "button";
  yes.addEventListener("click", async () => {
    done();
    let permission = "denied";
    try {
      permission = await Notification.requestPermission();
    } catch {
      // treated as not allowed
    }
    setNotifyWanted(permission === "granted");
  });
  const no = el("button", "button small secondary", "Not now");
  no.type = "button";
  no.addEventListener("click", done);
  const actions = el("div", "notify-offer-actions");
  actions.append(yes, no);
  banner.append(actions);
  list.after(banner); // below the list: nothing on the page moves when it appears
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
  if (isMuted(m.chat)) return;
  if (!notifySupported() || !notifyWanted() || Notification.permission !== "granted") return;
  try {
    const n = new Notification(m.sender, {
      body: m.removed ? "Message removed" : truncate(m.body, 120),
      tag: `chatsite-chat-${Number(m.chat)}`,
    });
    n.addEventListener("click", () => {
      window.focus();
      if (m.chat !== openChat()) location.assign(`/chats/${Number(m.chat)}/`);
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

// Chats this user muted: no toast, no sound and no browser notification for them (the unread
// badge still counts; the chat list marks them "muted"). The page says which at load
// (`data-muted-chats` on <body>); a `muted` frame says when one is muted or unmuted here, in
// another tab or on another device.

import { openChat } from "./util.js";

const muted = new Set(
  (document.body.dataset.mutedChats || "")
    .split(" ")
    .filter(Boolean)
    .map(Number),
);

export function isMuted(chat) {
  return muted.has(chat);
}

export function setMuted(chat, on) {
  if (on) muted.add(chat);
  else muted.delete(chat);
  showInList(chat, on);
  if (chat === openChat) showInHeader(on);
}

// The chat list's "muted" mark.
function showInList(chat, on) {
  const item = document.querySelector(`li.chatitem[data-chat-id="${Number(chat)}"]`);
  if (!item) return;
  if (on) item.dataset.muted = "true";
  else delete item.dataset.muted;
  const mark = item.querySelector('[data-field="muted"]');
  if (mark) mark.hidden = !on;
}

// The open chat's Mute/Unmute button (a plain form) says what a click will do next.
function showInHeader(on) {
  const form = document.getElementById("chat-mute");
  if (!form) return;
  form.dataset.muted = String(on);
  const field = form.querySelector('input[name="muted"]');
  if (field) field.value = on ? "0" : "1";
  const button = form.querySelector("button");
  if (button) {
    button.textContent = on ? "Unmute" : "Mute";
    button.setAttribute("aria-pressed", String(on));
  }
}

// A `renamed` frame ({"old", "new"}): every place the page shows the old name takes the new
// one (the chat header, the composer, the senders of shown messages, the chat list, presence),
// and the open chat with that person says "<old> is now <new>" once. The user's own rename
// (from another tab or device) reloads the page: the name is part of what every module
// compares with, and the server renders it afresh (the outbox and drafts are kept).

import * as chatlist from "./chatlist.js";
import * as presence from "./presence.js";
import { el, me } from "./util.js";

const announced = new Set();

// A page already on its way elsewhere (the profile form that made the rename is submitting)
// must not reload: a reload would replace that navigation and its "changed" message.
let leaving = false;
addEventListener("beforeunload", () => {
  leaving = true;
});
addEventListener("pageshow", () => {
  leaving = false;
});

export function renamed(f) {
  const old = f.old;
  const name = f.new;
  if (typeof old !== "string" || typeof name !== "string" || !old || !name || old === name) return;
  if (old === me) {
    if (!leaving) location.reload();
    return;
  }
  presence.rename(old, name);
  renameInList(old, name);
  const chat = document.getElementById("chat");
  if (chat && chat.dataset.peer === old) {
    renameInChat(chat, old, name);
    chatlist.renameInTitle(old, name);
  }
  presence.renderPresence();
}

function renameInList(old, name) {
  const list = document.getElementById("chatlist");
  if (!list) return;
  for (const item of list.querySelectorAll("li.chatitem")) {
    if (item.dataset.peer !== old) continue;
    item.dataset.peer = name;
    const peer = item.querySelector(".peer");
    if (peer) peer.textContent = name;
    const avatar = item.querySelector(".avatar");
    if (avatar) avatar.textContent = Array.from(name)[0].toUpperCase();
  }
}

function swap(node, attr, old, name) {
  const value = node ? node.getAttribute(attr) : null;
  if (value !== null) node.setAttribute(attr, value.split(old).join(name));
}

function renameInChat(chat, old, name) {
  chat.dataset.peer = name;
  swap(chat, "aria-label", old, name);
  const heading = document.getElementById("peer-name");
  if (heading) heading.textContent = name;
  const avatar = chat.querySelector(".chat-head .avatar");
  if (avatar) avatar.textContent = Array.from(name)[0].toUpperCase();
  const presenceLine = document.getElementById("presence");
  if (presenceLine) presenceLine.dataset.user = name;
  for (const node of chat.querySelectorAll(".chat-head-action button, .message-log")) {
    swap(node, "aria-label", old, name);
  }
  const box = document.getElementById("composer-body");
  swap(box, "placeholder", old, name);
  const label = document.querySelector('label[for="composer-body"]');
  if (label) label.textContent = `Message ${name}`;
  const list = document.getElementById("message-list");
  if (!list) return;
  for (const node of list.querySelectorAll(`li.msg[data-sender="${CSS.escape(old)}"]`)) {
    node.dataset.sender = name;
    const sender = node.querySelector('[data-field="sender"]');
    if (sender) sender.textContent = `${name}:`;
  }
  const key = `${old}\n${name}`;
  if (announced.has(key)) return;
  announced.add(key);
  const line = el("li", "system-line", `${old} is now ${name}`);
  line.setAttribute("role", "note");
  list.append(line);
}

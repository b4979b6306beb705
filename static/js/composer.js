// The composer: Enter sends (into the outbox first, shown as pending at once), typing is
// announced, and a message the server refused is marked "Not sent" with Edit and Discard.

import * as actions from "./actions.js";
import { decorate } from "./decorate.js";
import * as outbox from "./outbox.js";
import * as presence from "./presence.js";
import * as receipts from "./receipts.js";
import * as scroll from "./scroll.js";
import * as thread from "./thread.js";
import { el, openChat, uuid } from "./util.js";

const MAX_BODY = 4000;

const composer = document.getElementById("composer");
const textarea = document.getElementById("composer-body");
const composerError = document.getElementById("composer-error");

function showError(text) {
  if (!composerError) return;
  composerError.textContent = text;
  composerError.hidden = !text;
}

function autoGrow() {
  textarea.style.height = "auto";
  textarea.style.height = `${Math.min(textarea.scrollHeight, 200)}px`;
}

function sendFromComposer() {
  const text = textarea.value.trim();
  if (!text) return;
  const length = Array.from(text).length;
  if (length > MAX_BODY) {
    showError(`A message can be at most ${MAX_BODY} characters; this one has ${length}.`);
    return;
  }
  showError("");
  if (actions.submitEdit(text)) return;
  const item = { client_id: uuid(), chat: openChat, body: text, at: Date.now() };
  const replyTo = actions.takeReply();
  if (replyTo !== null) item.reply_to = replyTo;
  thread.addPending(item);
  textarea.value = "";
  autoGrow();
  textarea.focus();
  scroll.scrollToBottom();
  presence.sent();
  outbox.add(item);
}

// The server refused a send for good: say why on the message, and offer Edit and Discard.
export function showFailed(item, detail) {
  const node = textarea ? thread.findPending(item.client_id) : null;
  if (!node) return;
  node.classList.add("failed");
  receipts.renderStatus(node);
  const actions = el("div", "msg-actions");
  actions.append(el("span", "msg-error", typeof detail === "string" ? detail : "Not sent."));
  const edit = el("button", "linkbutton msg-edit", "Edit");
  edit.type = "button";
  edit.addEventListener("click", () => {
    if (typeof item.body === "string") textarea.value = item.body;
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

export function init() {
  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    sendFromComposer();
  });
  textarea.addEventListener("keydown", (event) => {
    const handled =
      (event.key === "Escape" && actions.cancelMode()) ||
      (event.key === "ArrowUp" && !textarea.value && actions.editLast());
    if (handled) event.preventDefault();
    if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) return;
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    event.preventDefault();
    sendFromComposer();
  });
  textarea.addEventListener("input", () => {
    autoGrow();
    if (textarea.value.trim()) presence.typed();
  });
  document.getElementById("new-pill")?.addEventListener("click", () => {
    scroll.scrollToBottom();
    thread.markRead();
    textarea.focus();
  });
  // Ready to type on desktop; on touch screens a keyboard popping up on open is a nuisance.
  if (window.matchMedia("(pointer: fine)").matches) textarea.focus({ preventScroll: true });
}

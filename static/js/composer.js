// The composer: Enter sends on desktop (a new line on touch screens, where the Send button
// sends), into the outbox first, shown as pending at once; the length is counted near the
// limit and a message over it is refused here with the text kept; the draft is kept per chat;
// typing is announced; a message the server refused is marked "Not sent" with Retry, Edit and
// Discard (also after a reload); a held outbox says the person is sending too fast. `init`
// binds the composer of the panel in the page (at load, and after a chat is switched in place).

import * as actions from "./actions.js";
import { decorate } from "./decorate.js";
import * as drafts from "./drafts.js";
import * as outbox from "./outbox.js";
import * as presence from "./presence.js";
import * as receipts from "./receipts.js";
import * as scroll from "./scroll.js";
import * as thread from "./thread.js";
import { el, uuid } from "./util.js";

const MAX_BODY = 4000;
const COUNT_FROM = 3500; // show the count once a message comes this near the limit

let chat = null; // the open chat, and its composer's elements
let composer = null;
let textarea = null;
let composerError = null;
let counter = null;
let notice = null;
let hint = null;
let listening = false;
const coarse = window.matchMedia("(pointer: coarse)");
const numberFmt = new Intl.NumberFormat();

function showError(text) {
  if (!composerError) return;
  composerError.textContent = text;
  composerError.hidden = !text;
}

function autoGrow() {
  textarea.style.height = "auto";
  textarea.style.height = `${Math.min(textarea.scrollHeight, 200)}px`;
}

function lengthOf(text) {
  return Array.from(text).length;
}

function tooLongText(length) {
  return (
    `This message has ${numberFmt.format(length)} characters; the limit is ` +
    `${numberFmt.format(MAX_BODY)}. Shorten it or send it in parts.`
  );
}

// The count near the limit, and the error over it; nothing typed is ever cut.
function checkLength() {
  const length = lengthOf(textarea.value.trim());
  const over = length > MAX_BODY;
  if (counter) {
    counter.hidden = length < COUNT_FROM;
    counter.textContent = `${numberFmt.format(length)} / ${numberFmt.format(MAX_BODY)}`;
    counter.classList.toggle("over", over);
  }
  textarea.setAttribute("aria-invalid", over ? "true" : "false");
  if (over) showError(tooLongText(length));
  else showError("");
  return !over;
}

function sendFromComposer() {
  const text = textarea.value.trim();
  if (!text) return;
  if (!checkLength()) {
    textarea.focus();
    return;
  }
  showError("");
  if (actions.submitEdit(text)) return;
  const item = { client_id: uuid(), chat, body: text, at: Date.now() };
  const replyTo = actions.takeReply();
  if (replyTo !== null) item.reply_to = replyTo;
  thread.addPending(item);
  textarea.value = "";
  drafts.set(chat, "");
  checkLength();
  autoGrow();
  textarea.focus();
  scroll.scrollToBottom();
  presence.sent();
  outbox.add(item);
}

function button(className, label, onClick) {
  const node = el("button", `linkbutton ${className}`, label);
  node.type = "button";
  node.addEventListener("click", onClick);
  return node;
}

// The server refused a send for good: say why on the message, offer Retry, Edit and Discard.
// The message stays in the outbox (failed) until one of them is chosen.
export function showFailed(item, detail) {
  const node = textarea ? thread.findPending(item.client_id) : null;
  if (!node) return;
  node.classList.add("failed");
  receipts.renderStatus(node);
  node.querySelector(".msg-actions")?.remove();
  const actions = el("div", "msg-actions");
  const reason = typeof detail === "string" && detail ? detail : item.detail || "Not sent.";
  actions.append(el("span", "msg-error", reason));
  const retry = button("msg-retry", "Retry", () => {
    const again = outbox.retry(item.client_id);
    node.remove();
    if (again) thread.addPending(again);
    scroll.scrollToBottom();
    decorate();
  });
  const edit = button("msg-edit", "Edit", () => {
    outbox.discard(item.client_id);
    if (typeof item.body === "string") textarea.value = item.body;
    node.remove();
    drafts.set(chat, textarea.value);
    checkLength();
    autoGrow();
    textarea.focus();
    decorate();
  });
  const discard = button("msg-discard", "Discard", () => {
    outbox.discard(item.client_id);
    node.remove();
    textarea.focus();
    decorate();
  });
  actions.append(" ", retry, " ", edit, " ", discard);
  node.querySelector(".bubble").append(actions);
}

// After a reload: the open chat's failed messages, still in the outbox, shown as failed.
function restoreFailed() {
  for (const item of outbox.load()) {
    if (item.chat === chat && item.failed) showFailed(item);
  }
}

function showHold(heldChat, seconds) {
  if (!notice || heldChat !== chat) return;
  notice.hidden = !seconds;
  notice.textContent = seconds
    ? "You're sending too fast. Your messages will go out in order in a few seconds."
    : "";
}

function enterSends() {
  return !coarse.matches;
}

function describeKeys() {
  if (!hint) return;
  hint.textContent = enterSends()
    ? "Enter sends, Shift+Enter adds a new line."
    : "Enter adds a new line; the Send button sends.";
}

export function init() {
  chat = Number(document.getElementById("chat").dataset.chatId);
  composer = document.getElementById("composer");
  textarea = document.getElementById("composer-body");
  composerError = document.getElementById("composer-error");
  counter = document.getElementById("composer-count");
  notice = document.getElementById("composer-notice");
  hint = document.getElementById("composer-hint");
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
    if (event.altKey || event.ctrlKey || event.metaKey || !enterSends()) return;
    event.preventDefault();
    sendFromComposer();
  });
  textarea.addEventListener("input", () => {
    autoGrow();
    checkLength();
    drafts.set(chat, textarea.value);
    if (textarea.value.trim()) presence.typed();
  });
  document.getElementById("new-pill")?.addEventListener("click", () => {
    scroll.scrollToBottom();
    thread.markRead();
    textarea.focus();
  });
  if (!listening) {
    listening = true;
    coarse.addEventListener("change", describeKeys);
    outbox.onHold(showHold);
  }
  describeKeys();
  showHold(chat, outbox.isHeld(chat) ? 1 : 0);
  restoreFailed();
  const draft = drafts.get(chat);
  if (draft && !textarea.disabled) {
    textarea.value = draft;
    checkLength();
    autoGrow();
  }
  // Ready to type on desktop; on touch screens a keyboard popping up on open is a nuisance.
  if (window.matchMedia("(pointer: fine)").matches) textarea.focus({ preventScroll: true });
}

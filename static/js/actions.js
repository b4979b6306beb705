// Message actions (docs/protocol.md `edit`, `delete`, `react`, send's `reply_to`): the
// "Message actions" menu of each message (Reply and React on all, Edit and Delete on one's
// own), the composer's editing and replying modes, the delete confirmation dialog, the
// reaction buttons under a message, and quotes that scroll to the message they quote.
//
// Every change goes to the server as a frame and shows when its `message` frame comes back
// (to every tab alike): nothing here changes a message on its own.

import { QUICK } from "./reactions.js";
import * as socket from "./socket.js";
import { el, openChat } from "./util.js";

let list = null; // the open chat's, set by init()
let composer = null;
let textarea = null;
let composerError = null;
let listening = false;
let mode = null; // {kind: "edit" | "reply", seq, node}
let banner = null;
let menu = null;
let menuButton = null;
let dialog = null;

function usable(node) {
  return node && !node.classList.contains("pending") && node.dataset.deleted !== "true" &&
    node.dataset.removed !== "true" && !node.classList.contains("removed");
}

function own(node) {
  return node.classList.contains("mine");
}

function say(text) {
  if (!composerError) return;
  composerError.textContent = text;
  composerError.hidden = !text;
}

function send(frame) {
  if (socket.send(frame)) return true;
  say("Not connected; try again in a moment.");
  return false;
}

// The composer's modes.

function showBanner(text, cancelLabel) {
  if (!banner) {
    banner = el("div", "compose-context");
    banner.id = "compose-context";
    composer.prepend(banner);
  }
  banner.textContent = "";
  const label = el("span", "compose-context-text", text);
  const cancel = el("button", "linkbutton", "Cancel");
  cancel.type = "button";
  cancel.setAttribute("aria-label", cancelLabel);
  cancel.addEventListener("click", () => {
    cancelMode();
    textarea.focus();
  });
  banner.append(label, " ", cancel);
  banner.hidden = false;
}

function bodyOf(node) {
  return node.querySelector('[data-field="body"]')?.textContent || "";
}

export function startEdit(node) {
  if (!usable(node) || !own(node)) return;
  mode = { kind: "edit", seq: Number(node.dataset.seq), node, before: textarea.value };
  textarea.value = bodyOf(node);
  textarea.dispatchEvent(new Event("input"));
  showBanner("Editing message", "Cancel editing");
  node.classList.add("editing");
  textarea.focus();
}

export function startReply(node) {
  if (!usable(node)) return;
  if (mode?.kind === "edit") cancelMode();
  mode = { kind: "reply", seq: Number(node.dataset.seq), node };
  const first = bodyOf(node).split("\n", 1)[0].slice(0, 80);
  showBanner(`Replying to ${node.dataset.sender}: ${first}`, "Cancel reply");
  textarea.focus();
}

// Escape: leave the editing or replying mode; true when there was one.
export function cancelMode() {
  if (!mode) return false;
  if (mode.kind === "edit") {
    mode.node.classList.remove("editing");
    textarea.value = mode.before || "";
    textarea.dispatchEvent(new Event("input"));
  }
  mode = null;
  if (banner) banner.hidden = true;
  return true;
}

// The composer's text, when it edits a message: sent as an `edit`; true when handled.
export function submitEdit(text) {
  if (mode?.kind !== "edit") return false;
  const { seq, node } = mode;
  const unchanged = text === bodyOf(node).trim();
  mode.before = "";
  if (unchanged || send({ type: "edit", chat: openChat(), seq, body: text })) cancelMode();
  return true;
}

// The seq the next send replies to (and the reply mode ends), or null.
export function takeReply() {
  if (mode?.kind !== "reply") return null;
  const { seq } = mode;
  cancelMode();
  return seq;
}

// Up arrow in an empty composer: edit one's last message; true when there was one.
export function editLast() {
  const mine = [...list.querySelectorAll("li.msg.mine")].filter(usable);
  if (!mine.length) return false;
  startEdit(mine[mine.length - 1]);
  return true;
}

// A refused edit, delete or react (an error frame naming a seq).
export function refused(f) {
  say(typeof f.detail === "string" ? f.detail : "That change was refused.");
}

// The menu.

function item(label, action, name) {
  const button = el("button", "msg-action", label);
  button.type = "button";
  button.setAttribute("role", "menuitem");
  button.tabIndex = -1;
  if (name) button.setAttribute("aria-label", name);
  button.addEventListener("click", () => {
    const node = menuButton?.closest("li.msg");
    closeMenu(false);
    if (node) action(node);
  });
  return button;
}

function react(node, emoji, on) {
  send({ type: "react", chat: openChat(), seq: Number(node.dataset.seq), emoji, on });
}

function openMenu(button) {
  closeMenu(false);
  const node = button.closest("li.msg");
  if (!usable(node)) return;
  menuButton = button;
  menu = el("div", "msg-actions-menu");
  menu.setAttribute("role", "menu");
  menu.setAttribute("aria-label", "Message actions");
  menu.append(item("Reply", startReply));
  const faces = el("div", "msg-action-reactions");
  faces.setAttribute("role", "group");
  faces.setAttribute("aria-label", "React");
  for (const emoji of QUICK) {
    const mine = node.querySelector(`.reaction.mine[data-emoji="${CSS.escape(emoji)}"]`);
    faces.append(item(emoji, (n) => react(n, emoji, !mine), `React ${emoji}`));
  }
  menu.append(faces);
  if (own(node)) {
    menu.append(item("Edit", startEdit), item("Delete", confirmDelete));
  }
  button.after(menu);
  button.setAttribute("aria-expanded", "true");
  menuItems()[0]?.focus();
}

function menuItems() {
  return menu ? [...menu.querySelectorAll('[role="menuitem"]')] : [];
}

function closeMenu(refocus) {
  if (!menu) return;
  menu.remove();
  menu = null;
  menuButton?.setAttribute("aria-expanded", "false");
  if (refocus) menuButton?.focus();
  menuButton = null;
}

function menuKeys(event) {
  const items = menuItems();
  const at = items.indexOf(document.activeElement);
  const moves = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1 };
  if (event.key in moves) {
    event.preventDefault();
    items[(at + moves[event.key] + items.length) % items.length]?.focus();
  } else if (event.key === "Home" || event.key === "End") {
    event.preventDefault();
    items[event.key === "Home" ? 0 : items.length - 1]?.focus();
  } else if (event.key === "Escape" || event.key === "Tab") {
    if (event.key === "Escape") event.preventDefault();
    closeMenu(event.key === "Escape");
  }
}

// Delete asks first, in a modal <dialog> (focus stays in it; Escape cancels).

function confirmDelete(node) {
  if (!dialog) {
    dialog = el("dialog", "confirm-dialog");
    dialog.id = "delete-dialog";
    dialog.setAttribute("aria-labelledby", "delete-dialog-title");
    dialog.setAttribute("aria-describedby", "delete-dialog-text");
    const title = el("h2", "", "Delete this message?");
    title.id = "delete-dialog-title";
    const text = el("p", "", "It will be deleted for everyone in this chat. This cannot be undone.");
    text.id = "delete-dialog-text";
    const form = el("form");
    form.method = "dialog";
    const cancel = el("button", "button secondary", "Cancel");
    cancel.value = "cancel";
    const confirm = el("button", "button danger", "Delete");
    confirm.value = "delete";
    form.append(cancel, " ", confirm);
    dialog.append(title, text, form);
    document.body.append(dialog);
  }
  dialog.returnValue = "";
  dialog.onclose = () => {
    if (dialog.returnValue === "delete") {
      send({ type: "delete", chat: openChat(), seq: Number(node.dataset.seq) });
    }
    node.querySelector(".msg-actions-button")?.focus();
  };
  dialog.showModal();
  dialog.querySelector('button[value="cancel"]').focus();
}

// A quote: scroll to the message it quotes, loading older history until it is there. A
// load that failed (the history budget spent: 429) ends it; the link offers to try again.

async function showQuoted(seq) {
  for (let tries = 0; tries < 40; tries++) {
    const target = document.getElementById(`msg-${seq}`);
    if (target) {
      target.scrollIntoView({ block: "center" });
      target.classList.add("flash");
      setTimeout(() => target.classList.remove("flash"), 1500);
      return;
    }
    const older = document.querySelector("#load-older a");
    if (!older || (tries > 0 && older.closest(".failed"))) return;
    older.click();
    await new Promise((resolve) => {
      document.body.addEventListener("htmx:afterSettle", resolve, { once: true });
      setTimeout(resolve, 3000);
    });
  }
}

// The panel in the page (at load, and after a chat is switched in place): no mode, no menu.
export function init() {
  closeMenu(false);
  mode = null;
  banner = null;
  list = document.getElementById("message-list");
  composer = document.getElementById("composer");
  textarea = document.getElementById("composer-body");
  composerError = document.getElementById("composer-error");
  if (!list || !composer || !textarea) return;
  list.addEventListener("click", (event) => {
    const button = event.target.closest?.(".msg-actions-button");
    if (button) {
      if (menuButton === button) closeMenu(true);
      else openMenu(button);
      return;
    }
    const reaction = event.target.closest?.("button.reaction");
    if (reaction) {
      const node = reaction.closest("li.msg");
      if (usable(node)) react(node, reaction.dataset.emoji, !reaction.classList.contains("mine"));
      return;
    }
    const quote = event.target.closest?.("a.quote");
    if (quote && quote.dataset.seq) {
      event.preventDefault();
      showQuoted(Number(quote.dataset.seq));
    }
  });
  list.addEventListener("keydown", (event) => {
    if (menu && menu.contains(event.target)) menuKeys(event);
  });
  if (listening) return;
  listening = true;
  document.addEventListener("click", (event) => {
    if (menu && !menu.contains(event.target) && !menuButton?.contains(event.target)) {
      closeMenu(false);
    }
  });
}

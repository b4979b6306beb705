// Sent, delivered, read: ticks with a text label on the user's own messages in the open chat,
// from the peer's pointers (the page, then `delivered` and `read` frames).

import { el } from "./util.js";

const STATUS = {
  sending: ["◷", "Sending"],
  sent: ["✓", "Sent"],
  delivered: ["✓✓", "Delivered"],
  read: ["✓✓", "Read"],
  failed: ["!", "Not sent"],
};

let peerRead = 0;
let peerDelivered = 0;

export function init(chatEl) {
  peerRead = Number(chatEl.dataset.peerReadSeq) || 0;
  peerDelivered = Math.max(Number(chatEl.dataset.peerDeliveredSeq) || 0, peerRead);
}

function statusOf(node) {
  if (node.classList.contains("failed")) return "failed";
  if (node.classList.contains("pending")) return "sending";
  const seq = Number(node.dataset.seq);
  if (seq <= peerRead) return "read";
  if (seq <= peerDelivered) return "delivered";
  return "sent";
}

export function renderStatus(node) {
  if (!node.classList.contains("mine")) return;
  const slot = node.querySelector('[data-field="status"]');
  if (!slot) return;
  const kind = statusOf(node);
  if (slot.firstElementChild && slot.firstElementChild.dataset.status === kind) return;
  const [icon, label] = STATUS[kind];
  const tick = el("span", `tick ${kind}`);
  tick.dataset.status = kind;
  tick.title = label;
  const glyph = el("span", "tick-icon", icon);
  glyph.setAttribute("aria-hidden", "true");
  tick.append(glyph, " ", el("span", "tick-label", label));
  slot.replaceChildren(tick);
}

export function renderStatuses() {
  const list = document.getElementById("message-list");
  if (!list) return;
  for (const node of list.querySelectorAll("li.msg.mine")) renderStatus(node);
}

export function peerReadTo(seq) {
  peerRead = Math.max(peerRead, seq);
  peerDelivered = Math.max(peerDelivered, peerRead);
  renderStatuses();
}

export function peerDeliveredTo(seq) {
  peerDelivered = Math.max(peerDelivered, seq);
  renderStatuses();
}

// One message node of the open chat, built from chats/_message.html's <template> and filled
// from a payload (a `message` frame, an `ack`) or from an outbox item (a pending message).
// User text reaches the DOM only through textContent.

import * as reactions from "./reactions.js";
import * as receipts from "./receipts.js";
import { el, fullFmt, isInt, me, parseDate, timeFmt } from "./util.js";

function template() {
  return document.getElementById("message-template");
}

export function blank() {
  const node = template().content.firstElementChild.cloneNode(true);
  node.removeAttribute("id");
  return node;
}

export function unreadDivider() {
  const divider = el("li", "unread-divider");
  divider.id = "unread-divider";
  divider.append(el("span", "unread-divider-text", "New messages"));
  return divider;
}

function setTime(node, iso) {
  const time = node.querySelector('[data-field="time"]');
  const d = parseDate(iso);
  if (!time || !d) return;
  time.setAttribute("datetime", iso);
  time.textContent = timeFmt.format(d);
  time.title = fullFmt.format(d);
}

export function fill(node, m) {
  node.classList.remove("pending", "failed");
  node.classList.add(m.sender === me ? "mine" : "theirs");
  node.classList.toggle("removed", Boolean(m.removed));
  node.id = `msg-${m.seq}`;
  node.dataset.seq = String(m.seq);
  node.dataset.id = String(m.id);
  node.dataset.version = String(isInt(m.version) ? m.version : 0);
  node.dataset.clientId = m.client_id || "";
  node.dataset.sender = m.sender || "";
  node.querySelector('[data-field="sender"]').textContent = `${m.sender}:`;
  const text = node.querySelector('[data-field="body"]');
  text.textContent = m.removed ? "Message removed by a moderator" : m.body;
  delete text.dataset.linked;
  setTime(node, m.sent_at);
  node.querySelector(".msg-actions")?.remove();
  if (m.sender === me || m.removed) node.querySelector(".msg-menu")?.remove();
  else setReportForm(node, m.chat, m.seq);
  if (m.removed || m.deleted) node.querySelector(".msg-actions-button")?.remove();
  reactions.render(node, m);
  receipts.renderStatus(node);
}

// The <template>'s report form has no URL (see chats/_report.html): point it at this message,
// give its field a unique id, and let htmx see the new hx-post once the node is in the page.
function setReportForm(node, chat, seq) {
  const form = node.querySelector("form.report-form");
  if (!form) return;
  const url = `/chats/${Number(chat)}/messages/${Number(seq)}/report/`;
  form.action = url;
  form.setAttribute("hx-post", url);
  const field = form.querySelector("textarea");
  const label = form.querySelector("label");
  if (field) field.id = `report-reason-${Number(seq)}`;
  if (label && field) label.htmlFor = field.id;
  node.dataset.needsHtmx = "1";
}

export function processHtmx(node) {
  if (!node.dataset.needsHtmx) return;
  delete node.dataset.needsHtmx;
  if (window.htmx) window.htmx.process(node);
}

// A message of this tab's outbox, not stored yet.
export function pending(item) {
  const node = blank();
  node.classList.add("mine", "pending");
  node.querySelector(".msg-menu")?.remove();
  node.querySelector(".msg-actions-button")?.remove();
  node.dataset.clientId = item.client_id;
  node.dataset.sender = me;
  node.querySelector('[data-field="sender"]').textContent = `${me}:`;
  node.querySelector('[data-field="body"]').textContent = item.body;
  setTime(node, new Date(item.at || Date.now()).toISOString());
  receipts.renderStatus(node);
  return node;
}

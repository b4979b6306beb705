// What a message shows besides its text (docs/protocol.md, `message`): "edited" with the
// time, "This message was deleted", the quote of the message it answers, and its reactions
// (who reacted with what). Filled from a payload into the nodes of chats/_message.html, and
// kept current: when a message changes, the quotes of it in the thread change with it.
// User text reaches the DOM only through textContent.

import { el, fullFmt, me, parseDate, timeFmt } from "./util.js";

export const QUICK = ["👍", "❤️", "😂", "😮", "😢", "🎉"];

function firstLine(text) {
  return String(text || "").split("\n", 1)[0];
}

export function render(node, m) {
  node.classList.toggle("deleted", Boolean(m.deleted));
  node.dataset.deleted = m.deleted ? "true" : "false";
  if (m.deleted) {
    const text = node.querySelector('[data-field="body"]');
    if (text) text.textContent = "This message was deleted";
    node.querySelector(".msg-menu")?.remove();
  }
  renderEdited(node, m.deleted ? null : m.edited_at);
  renderQuote(node, m.reply_to);
  renderReactions(node, m.deleted || m.removed ? {} : m.reactions);
}

function renderEdited(node, iso) {
  const mark = node.querySelector('[data-field="edited"]');
  if (!mark) return;
  const d = parseDate(iso);
  mark.hidden = !d;
  mark.textContent = "";
  if (!d) return;
  const time = el("time", "", timeFmt.format(d));
  time.setAttribute("datetime", iso);
  mark.append("edited ", time);
  mark.title = `Edited ${fullFmt.format(d)}`;
}

export function renderQuote(node, quote) {
  const link = node.querySelector('[data-field="quote"]');
  if (!link) return;
  if (!quote || !Number.isInteger(quote.seq)) {
    link.hidden = true;
    delete node.dataset.replyTo;
    return;
  }
  node.dataset.replyTo = String(quote.seq);
  link.hidden = false;
  link.href = `#msg-${quote.seq}`;
  link.dataset.seq = String(quote.seq);
  link.querySelector('[data-field="quote-sender"]').textContent = quote.sender || "";
  const body = link.querySelector('[data-field="quote-body"]');
  body.textContent = "";
  if (quote.deleted) body.append(el("em", "", "deleted message"));
  else body.textContent = firstLine(quote.body);
}

// The replies in `list` to message `m` show its new state (also when `m` itself is not shown:
// older than the loaded history), never an older one than they show.
export function updateQuotes(list, m) {
  const version = Number.isInteger(m.version) ? m.version : 0;
  for (const reply of list.querySelectorAll(`li.msg[data-reply-to="${Number(m.seq)}"]`)) {
    if (Number(reply.dataset.quoteVersion || 0) > version) continue;
    reply.dataset.quoteVersion = String(version);
    const gone = Boolean(m.deleted || m.removed);
    renderQuote(reply, {
      seq: m.seq,
      sender: m.sender,
      body: gone ? "" : String(m.body || "").slice(0, 200),
      deleted: gone,
    });
  }
}

function renderReactions(node, reactions) {
  const box = node.querySelector('[data-field="reactions"]');
  if (!box) return;
  box.textContent = "";
  const entries = Object.entries(reactions && typeof reactions === "object" ? reactions : {});
  box.hidden = entries.length === 0;
  for (const [emoji, names] of entries) {
    if (!Array.isArray(names) || !names.length) continue;
    const mine = names.includes(me);
    const button = el("button", `reaction${mine ? " mine" : ""}`);
    button.type = "button";
    button.dataset.emoji = emoji;
    button.setAttribute("aria-pressed", mine ? "true" : "false");
    button.setAttribute("aria-label", `${emoji} ${names.length}: ${names.join(", ")}`);
    button.title = names.join(", ");
    const face = el("span", "", emoji);
    face.setAttribute("aria-hidden", "true");
    const count = el("span", "reaction-count", String(names.length));
    count.setAttribute("aria-hidden", "true");
    button.append(face, " ", count);
    const item = el("li");
    item.append(button);
    box.append(item);
  }
}

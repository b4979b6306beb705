// The look of the open chat's message list, recomputed from the DOM: day separators, sender
// grouping, local times and links. Idempotent: separators that are already right stay, so the
// live region does not announce them again. User text becomes links only through DOM nodes.

import { dayKey, dayLabel, el, fullFmt, parseDate, timeFmt } from "./util.js";

const GROUP_GAP_MS = 5 * 60 * 1000;
// http(s) addresses, and bare "www." ones (linked as https), not inside a longer name.
const URL_RE = /(?:\bhttps?:\/\/|(?<![\w.@/-])www\.)[^\s<>"'`]+/gi;

export function decorate() {
  const list = document.getElementById("message-list");
  if (!list) return;
  let prev = null;
  let prevDay = null;
  for (const node of list.querySelectorAll("li.msg")) {
    const time = node.querySelector('[data-field="time"]');
    const d = parseDate(time && time.getAttribute("datetime"));
    if (time && d && !time.dataset.local) {
      time.textContent = timeFmt.format(d);
      time.title = fullFmt.format(d);
      time.dataset.local = "1";
    }
    const key = d ? dayKey(d) : prevDay;
    // The separators and the unread divider directly above this message.
    let dividerAbove = false;
    const seps = [];
    for (let h = node.previousElementSibling; h; h = h.previousElementSibling) {
      if (h.classList.contains("day-sep")) seps.push(h);
      else if (h.classList.contains("unread-divider")) dividerAbove = true;
      else break;
    }
    const needSep = Boolean(key && key !== prevDay);
    const keep = needSep ? seps.find((sep) => sep.dataset.day === key) : null;
    for (const sep of seps) if (sep !== keep) sep.remove();
    if (needSep && !keep) {
      const sep = el("li", "day-sep");
      sep.dataset.day = key;
      sep.append(el("span", "day-sep-text", dayLabel(d)));
      list.insertBefore(sep, firstHeader(node));
    } else if (keep) {
      // The server labels days in UTC and its own words: use the viewer's, changing the text
      // only when it differs (an unchanged separator is not announced again).
      const label = dayLabel(d);
      const text = keep.querySelector(".day-sep-text");
      if (text && text.textContent !== label) text.textContent = label;
      if (keep !== firstHeader(node)) list.insertBefore(keep, firstHeader(node)); // above the divider
    }
    const prevTime = prev ? parseDate(prev.querySelector('[data-field="time"]')?.getAttribute("datetime")) : null;
    const cont =
      prev &&
      key === prevDay &&
      !dividerAbove &&
      prev.dataset.sender === node.dataset.sender &&
      prevTime &&
      d &&
      d - prevTime < GROUP_GAP_MS;
    node.classList.toggle("cont", Boolean(cont));
    if (prev) prev.classList.toggle("group-end", !cont);
    linkify(node.querySelector('[data-field="body"]'));
    prev = node;
    prevDay = key;
  }
  if (prev) prev.classList.add("group-end");
  // A separator left with no message under it goes too.
  for (const sep of list.querySelectorAll("li.day-sep")) {
    let next = sep.nextElementSibling;
    while (next && (next.classList.contains("unread-divider") || next.classList.contains("day-sep"))) {
      next = next.nextElementSibling;
    }
    if (!next || !next.classList.contains("msg")) sep.remove();
  }
}

// The first of the separator/divider items directly above a message (or the message).
export function firstHeader(node) {
  let top = node;
  for (let h = node.previousElementSibling; h; h = h.previousElementSibling) {
    if (!h.classList.contains("day-sep") && !h.classList.contains("unread-divider")) break;
    top = h;
  }
  return top;
}

function trimUrl(raw) {
  let url = raw.replace(/[.,;:!?'"»”’]+$/, "");
  // Keep a closing bracket only when the URL opened one, as in Wikipedia links.
  for (const [open, close] of [["(", ")"], ["[", "]"]]) {
    while (url.endsWith(close) && url.split(open).length < url.split(close).length) {
      url = url.slice(0, -1).replace(/[.,;:!?]+$/, "");
    }
  }
  return url;
}

function linkify(node) {
  if (!node || node.dataset.linked) return;
  node.dataset.linked = "1";
  const walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
  const texts = [];
  while (walker.nextNode()) texts.push(walker.currentNode);
  for (const textNode of texts) {
    const text = textNode.nodeValue;
    URL_RE.lastIndex = 0;
    if (!URL_RE.test(text)) continue;
    URL_RE.lastIndex = 0;
    const frag = document.createDocumentFragment();
    let last = 0;
    for (const match of text.matchAll(URL_RE)) {
      const raw = trimUrl(match[0]);
      let url;
      try {
        url = new URL(/^www\./i.test(raw) ? `https://${raw}` : raw);
      } catch {
        continue;
      }
      if (url.protocol !== "http:" && url.protocol !== "https:") continue;
      frag.append(text.slice(last, match.index));
      const a = el("a", "msg-link", raw);
      a.href = url.href;
      a.rel = "noopener noreferrer";
      a.target = "_blank";
      frag.append(a);
      last = match.index + raw.length;
    }
    if (last === 0) continue;
    frag.append(text.slice(last));
    textNode.replaceWith(frag);
  }
}

// Page facts and small pure helpers shared by every module: no state of their own.

const body = document.body;

export const me = body.dataset.user || "";
export const myId = body.dataset.userId || "";

// The chat the page shows now (null when none): read from the page each time, because
// switching chats swaps the panel in place (switcher.js).
export function openChat() {
  const id = Number(document.getElementById("chat")?.dataset.chatId);
  return Number.isInteger(id) && id > 0 ? id : null;
}

// The browser's locale decides the clock: "3:18 PM" in en-US, "15:18" in en-GB or de.
export const timeFmt = new Intl.DateTimeFormat(undefined, { timeStyle: "short" });
export const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long" });
const dayYearFmt = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "long", year: "numeric" });
const weekdayFmt = new Intl.DateTimeFormat(undefined, { weekday: "short" });
const shortDateFmt = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });
const relFmt = new Intl.RelativeTimeFormat("en", { numeric: "auto" });

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function isInt(value) {
  return Number.isInteger(value) && value >= 0;
}

// A non-negative integer from a data-* attribute, or null when it has none.
export function intAttr(value) {
  if (value === undefined || value === null || value === "") return null;
  const n = Number(value);
  return isInt(n) ? n : null;
}

export function truncate(text, max) {
  const chars = Array.from(text || "");
  return chars.length > max ? chars.slice(0, max - 1).join("") + "…" : chars.join("");
}

export function uuid() {
  if (window.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function parseDate(value) {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}

export function dayKey(d) {
  return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
}

export function dayLabel(d) {
  const now = new Date();
  const yesterday = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1);
  if (dayKey(d) === dayKey(now)) return "Today";
  if (dayKey(d) === dayKey(yesterday)) return "Yesterday";
  return d.getFullYear() === now.getFullYear() ? dayFmt.format(d) : dayYearFmt.format(d);
}

export function listTime(d) {
  const now = new Date();
  if (dayKey(d) === dayKey(now)) return timeFmt.format(d);
  const days = (now - d) / 86400000;
  if (days < 6) return weekdayFmt.format(d);
  return shortDateFmt.format(d);
}

export function agoText(d) {
  const seconds = Math.round((d - Date.now()) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 60) return "just now";
  if (abs < 3600) return relFmt.format(Math.round(seconds / 60), "minute");
  if (abs < 86400) return relFmt.format(Math.round(seconds / 3600), "hour");
  if (abs < 7 * 86400) return relFmt.format(Math.round(seconds / 86400), "day");
  return `on ${dayYearFmt.format(d)}`;
}

export function isVisible() {
  return document.visibilityState === "visible";
}

// What a person typed but did not send, kept per chat in localStorage (per user) across chat
// switches, reloads and closed tabs, and cleared when it is sent or on logout.

import { myId } from "./util.js";

const PREFIX = `chatsite:draft:${myId}:`;

export function get(chat) {
  try {
    return localStorage.getItem(PREFIX + chat) || "";
  } catch {
    return "";
  }
}

export function set(chat, text) {
  try {
    if (text.trim()) localStorage.setItem(PREFIX + chat, text);
    else localStorage.removeItem(PREFIX + chat);
  } catch {
    // Storage full or disabled: the text stays in the box while the page is open.
  }
}

// Drafts are private: they do not outlive an explicit logout on this browser.
export function clearAll() {
  try {
    const keys = [];
    for (let i = 0; i < localStorage.length; i += 1) {
      const key = localStorage.key(i);
      if (key && key.startsWith(PREFIX)) keys.push(key);
    }
    for (const key of keys) localStorage.removeItem(key);
  } catch {
    // nothing stored
  }
}

// History opened around a message (a search result, `/chats/<id>/?around=<seq>`): until the
// newest messages are loaded (the `#load-newer` row is gone), live messages past the loaded
// window wait for that page, and the chat is not marked read.

import * as outbox from "./outbox.js";
import { me } from "./util.js";

export function endLoaded() {
  return !document.getElementById("load-newer");
}

// Whether `m` waits for the newer pages; one's own message loads them at once (its pending
// copy goes when the stored one arrives with them, `dropStoredPending`).
export function holdsBack(m, highestSeq) {
  if (endLoaded() || m.seq <= highestSeq) return false;
  if (m.sender === me && m.client_id) {
    outbox.settle(m.client_id);
    document.querySelector("#load-newer a")?.click();
  }
  return true;
}

// Pending copies whose stored message came in with a page of newer history.
export function dropStoredPending(list) {
  for (const node of list.querySelectorAll("li.msg.pending")) {
    const id = node.dataset.clientId;
    if (id && list.querySelector(`li.msg[data-client-id="${CSS.escape(id)}"]:not(.pending)`)) {
      node.remove();
    }
  }
}

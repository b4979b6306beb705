// Scrolling the open chat: whether the reader is at the bottom ("pinned"), the "New messages"
// pill, and keeping the view in place while older history is inserted above it.

const BOTTOM_SLACK_PX = 48;

let messagesBox = null; // the open chat's, set by bind()
let pill = null;
let pinned = true;
let olderAnchor = null; // distance from the bottom to keep while older history is inserted
const pinListeners = [];

export function isPinned() {
  return pinned;
}

// Called with the new value whenever the reader reaches or leaves the bottom.
export function onPinnedChange(listener) {
  pinListeners.push(listener);
}

// The message box scrolls when the stylesheet makes it a scroll container, else the page does.
function scroller() {
  if (messagesBox) {
    const overflow = getComputedStyle(messagesBox).overflowY;
    if (overflow === "auto" || overflow === "scroll") return messagesBox;
  }
  return document.scrollingElement || document.documentElement;
}

function atBottom() {
  const s = scroller();
  return s.scrollHeight - s.scrollTop - s.clientHeight <= BOTTOM_SLACK_PX;
}

export function scrollToBottom() {
  const s = scroller();
  s.scrollTop = s.scrollHeight;
  pinned = true;
  if (pill) pill.hidden = true;
}

export function showPill() {
  if (pill) pill.hidden = false;
}

function onScroll() {
  const now = atBottom();
  if (now === pinned) return;
  pinned = now;
  if (pinned && pill) pill.hidden = true;
  for (const listener of pinListeners) listener(pinned);
}

export function initialScroll() {
  const divider = document.getElementById("unread-divider");
  const target = document.querySelector("#message-list li.msg.target");
  if (target) {
    // Opened at a search result: that message in the middle of the view.
    target.scrollIntoView({ block: "center" });
  } else if (divider) {
    const s = scroller();
    const top = s === messagesBox ? s.getBoundingClientRect().top : 0;
    s.scrollTop += divider.getBoundingClientRect().top - top - 8;
  } else {
    scrollToBottom();
  }
  pinned = atBottom();
}

// Older history arrives as an htmx partial at the top: remember where the reader is ...
export function holdBeforeOlder() {
  const s = scroller();
  olderAnchor = s.scrollHeight - s.scrollTop;
}

// ... and put them back there once it is in.
export function restoreAfterOlder() {
  if (olderAnchor === null) return;
  const s = scroller();
  s.scrollTop = s.scrollHeight - olderAnchor;
  olderAnchor = null;
}

// The panel in the page (at load, and after a chat is switched in place).
export function bind() {
  messagesBox = document.getElementById("messages");
  pill = document.getElementById("new-pill");
  pinned = true;
  olderAnchor = null;
  messagesBox?.addEventListener("scroll", onScroll, { passive: true });
}

export function listen() {
  window.addEventListener("scroll", onScroll, { passive: true });
  window.addEventListener("resize", () => {
    if (pinned) scrollToBottom();
  });
}

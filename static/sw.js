// Chatsite's service worker, served at /sw.js (scope "/") by push/views.py, which puts
// `self.CHATSITE = {version, shell, offline}` in front of this file.
const { version, shell, offline } = self.CHATSITE;
const CACHE = `chatsite-${version}`;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll([offline, ...shell]))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.mode === "navigate") {
    // Pages always come from the network; the offline page only when it cannot be reached.
    event.respondWith(fetch(request).catch(() => caches.match(offline)));
    return;
  }
  const url = new URL(request.url);
  if (request.method === "GET" && url.origin === self.location.origin && shell.includes(url.pathname)) {
    event.respondWith(fetch(request).catch(() => caches.match(request)));
  }
});

// The path a notification opens: the payload's own path on this site, else the chat list.
function chatPath(url) {
  try {
    const parsed = new URL(url, self.location.origin);
    if (parsed.origin === self.location.origin) return parsed.pathname;
  } catch {
    // not a URL: the list
  }
  return "/chats/";
}

function windowsShowing(path) {
  return self.clients
    .matchAll({ type: "window", includeUncontrolled: true })
    .then((windows) => windows.filter((client) => new URL(client.url).pathname === path));
}

self.addEventListener("push", (event) => {
  let data;
  try {
    data = event.data ? event.data.json() : null;
  } catch {
    data = null;
  }
  if (!data || data.type !== "message") return;
  const path = chatPath(data.url);
  event.waitUntil(
    windowsShowing(path).then((windows) => {
      // A visible tab of the chat shows the message already.
      if (windows.some((client) => client.visibilityState === "visible")) return undefined;
      return self.registration.showNotification(data.sender, {
        body: data.body ?? "New message",
        tag: `chat-${data.chat}`, // one per chat: the next replaces it
        renotify: true,
        icon: shell.find((name) => name.includes("icon-192")),
        data: { url: path },
      });
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const path = chatPath(event.notification.data && event.notification.data.url);
  // A tab of the chat comes forward; without one, the chat opens in a new one.
  const opened = windowsShowing(path).then((windows) =>
    windows.length ? windows[0].focus() : self.clients.openWindow(path),
  );
  event.waitUntil(opened);
});

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

async function chatIsVisible(url) {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  return windows.some(
    (client) => client.visibilityState === "visible" && new URL(client.url).pathname === url,
  );
}

self.addEventListener("push", (event) => {
  let data;
  try {
    data = event.data ? event.data.json() : null;
  } catch {
    data = null;
  }
  if (!data || data.type !== "message") return;
  event.waitUntil(
    chatIsVisible(data.url).then((visible) => {
      if (visible) return undefined; // the open tab shows it already
      return self.registration.showNotification(data.sender, {
        body: data.body ?? "New message",
        tag: `chat-${data.chat}`, // one per chat: the next replaces it
        renotify: true,
        icon: shell.find((path) => path.includes("icon-192")),
        data: { url: data.url },
      });
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = (event.notification.data && event.notification.data.url) || "/chats/";
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      const open = windows.find((client) => new URL(client.url).pathname === url);
      if (open) return open.focus();
      return self.clients.openWindow(url);
    }),
  );
});

// The installable app and Web Push: registers the service worker on every page, and runs
// the profile page's "Notifications on this browser" button.

function csrfToken() {
  try {
    return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["x-csrftoken"] || "";
  } catch {
    return "";
  }
}

function base64UrlToBytes(text) {
  const padded = (text + "=".repeat((4 - (text.length % 4)) % 4)).replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

async function subscribe(status) {
  const permission = await Notification.requestPermission();
  if (permission !== "granted") {
    status.textContent = "Notifications are blocked for this site in your browser's settings.";
    return;
  }
  const registration = await navigator.serviceWorker.ready;
  const keyResponse = await fetch("/api/push/key", { credentials: "same-origin" });
  const { public_key: key } = await keyResponse.json();
  const subscription = await registration.pushManager.subscribe({
    userVisibleOnly: true,
    applicationServerKey: base64UrlToBytes(key),
  });
  const response = await fetch("/api/push/subscriptions/", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
    body: JSON.stringify(subscription.toJSON()),
  });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    status.textContent = body.detail || "This browser could not be subscribed.";
    return;
  }
  window.location.reload(); // the list of browsers is rendered by the server
}

function setUpSection(section) {
  const button = section.querySelector("#push-enable");
  const status = section.querySelector("#push-status");
  if (!("serviceWorker" in navigator) || !("PushManager" in window)) {
    status.textContent = "This browser does not support push notifications.";
    return;
  }
  button.hidden = false;
  button.addEventListener("click", () => {
    button.disabled = true;
    subscribe(status)
      .catch(() => {
        status.textContent = "This browser could not be subscribed.";
      })
      .finally(() => {
        button.disabled = false;
      });
  });
}

if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {});
}
const section = document.getElementById("push-settings");
if (section) setUpSection(section);

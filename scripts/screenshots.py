"""Screenshots of the main screens at 390x844 and 1280x800, light and dark.

Usage (against a running server with a user who has at least one chat):
    .venv/bin/python scripts/screenshots.py --base http://127.0.0.1:8000 \
        --user alice --password '...' --out artifacts/screenshots

--demo also shows the states the browser client adds (day separators, grouped messages,
sending/failed, unread divider, typing, presence, toasts, connection banner, new-messages
pill) by decorating the chat page, to review their styling before the client sets them.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORTS = {"phone": (390, 844), "desktop": (1280, 800)}

DEMO_JS = r"""
() => {
  const list = document.getElementById("message-list");
  if (!list) return;
  const msgs = [...list.querySelectorAll(".msg")];
  let prevSender = null, prevDay = null;
  for (const m of msgs) {
    const t = m.querySelector("time").getAttribute("datetime");
    const day = new Date(t).toDateString();
    if (day !== prevDay) {
      const sep = document.createElement("li");
      sep.className = "day-separator";
      sep.textContent = day === new Date().toDateString() ? "Today" : "Yesterday";
      m.before(sep);
      prevSender = null;
    }
    if (m.dataset.sender === prevSender) m.classList.add("grouped");
    prevSender = m.dataset.sender; prevDay = day;
  }
  const divider = document.createElement("li");
  divider.className = "unread-divider";
  divider.textContent = "New messages";
  msgs[msgs.length - 2].before(divider);
  const tpl = document.getElementById("message-template").content.firstElementChild;
  const extra = [
    ["sending", "On my way!", '<span class="visually-hidden">Sending</span>'],
    ["failed", "This one did not go through", 'Not sent · <button type="button">Retry</button>'],
  ];
  for (const [cls, body, status] of extra) {
    const li = tpl.cloneNode(true);
    li.classList.add("mine", cls, "grouped");
    li.querySelector(".body").textContent = body;
    li.querySelector("time").textContent = "10:42";
    li.querySelector(".status").innerHTML = status;
    list.append(li);
  }
  document.getElementById("typing").textContent = "bob is typing…";
  document.getElementById("presence").innerHTML =
    '<span class="presence-dot online" aria-hidden="true"></span> online';
  document.querySelectorAll(".chatitem .avatar").forEach((a, i) => {
    a.insertAdjacentHTML("beforeend",
      `<span class="presence-dot ${i % 2 ? "offline" : "online"}"></span>`);
  });
  const total = document.getElementById("unread-total");
  total.hidden = false; total.textContent = "3";
  const banner = document.getElementById("conn-status");
  banner.textContent = "Reconnecting… your messages will send when you're back";
  banner.hidden = false;
  document.getElementById("toasts").innerHTML =
    '<div class="toast" role="status"><a href="#"><strong>carol</strong>' +
    '<span class="preview">I\'m in, if there\'s room. Should I bring anything?</span></a>' +
    '<button type="button" class="dismiss" aria-label="Dismiss">\u00d7</button></div>';
  const pill = document.createElement("button");
  pill.type = "button"; pill.className = "new-pill"; pill.textContent = "↓ 2 new messages";
  document.getElementById("chat").append(pill);
  const box = document.getElementById("messages");
  box.scrollTop = box.scrollHeight;
}
"""


def shoot(page: Page, out: Path, name: str) -> None:
    png = page.screenshot()
    try:
        from PIL import Image

        img = Image.open(io.BytesIO(png)).convert("RGB")
        img = img.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
        buf = io.BytesIO()
        img.save(buf, "PNG", optimize=True)
        png = buf.getvalue()
    except ImportError:
        pass
    (out / f"{name}.png").write_bytes(png)
    print(out / f"{name}.png", len(png) // 1024, "KiB")


def login(page: Page, base: str, user: str, password: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", user)
    page.fill("#id_password", password)
    page.click("form[action$='/login/'] button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="http://127.0.0.1:8000")
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--out", default="artifacts/screenshots")
    ap.add_argument("--peer", help="open the chat with this user (default: the first chat)")
    ap.add_argument("--demo", action="store_true")
    ap.add_argument("--pages", default="home,login,signup,chats,chat,profile")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pages = set(args.pages.split(","))
    base = args.base.rstrip("/")

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for scheme in ("light", "dark"):
            for device, (w, h) in VIEWPORTS.items():
                ctx = browser.new_context(
                    viewport={"width": w, "height": h},
                    color_scheme=scheme,
                    reduced_motion="reduce",
                    device_scale_factor=1,
                )
                page = ctx.new_page()
                tag = f"{device}-{scheme}"
                if "home" in pages:
                    page.goto(f"{base}/")
                    shoot(page, out, f"home-{tag}")
                if "signup" in pages:
                    page.goto(f"{base}/accounts/signup/")
                    page.fill("#id_username", "x")
                    page.fill("#id_password1", "short")
                    page.click("form[action$='/signup/'] button[type=submit]")
                    page.wait_for_load_state()
                    shoot(page, out, f"signup-errors-{tag}")
                if "login" in pages:
                    page.goto(f"{base}/accounts/login/")
                    shoot(page, out, f"login-{tag}")
                login(page, base, args.user, args.password)
                if "chats" in pages:
                    page.goto(f"{base}/chats/")
                    shoot(page, out, f"chats-{tag}")
                if "chat" in pages:
                    page.goto(f"{base}/chats/")
                    item = f".chatitem[data-peer='{args.peer}']" if args.peer else ".chatitem"
                    page.locator(f"{item} a").first.click()
                    page.wait_for_selector("#message-list")
                    page.evaluate(
                        "() => { const m = document.getElementById('messages');"
                        " m.scrollTop = m.scrollHeight; }"
                    )
                    if args.demo:
                        page.evaluate(DEMO_JS)
                    shoot(page, out, f"chat{'-states-preview' if args.demo else ''}-{tag}")
                if "profile" in pages:
                    page.goto(f"{base}/accounts/profile/")
                    shoot(page, out, f"profile-{tag}")
                ctx.close()
        browser.close()


if __name__ == "__main__":
    main()

// Message menus (<details>): one open at a time; Escape or a click elsewhere closes it.

function closeMenus(except) {
  for (const menu of document.querySelectorAll("details.msg-menu[open]")) {
    if (menu !== except) menu.open = false;
  }
}

export function init() {
  document.addEventListener(
    "toggle",
    (event) => {
      const menu = event.target;
      if (!(menu instanceof HTMLDetailsElement) || !menu.open) return;
      if (menu.classList.contains("msg-menu")) closeMenus(menu);
      // An opened menu (or its report form) near the bottom scrolls into view.
      const panel = menu.closest(".msg-menu")?.querySelector(".msg-menu-panel");
      if (panel) panel.scrollIntoView({ block: "nearest" });
    },
    true,
  );
  document.addEventListener("click", (event) => {
    if (!event.target.closest || !event.target.closest("details.msg-menu")) closeMenus(null);
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const menu = event.target.closest ? event.target.closest("details.msg-menu[open]") : null;
    if (menu) {
      menu.open = false;
      menu.querySelector("summary")?.focus();
    }
  });
}

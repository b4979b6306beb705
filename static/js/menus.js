// Menus (<details>: the message menus and the user's menu in the top bar): one open at a
// time; Escape or a click elsewhere closes it.

const MENUS = "details.msg-menu, details.usermenu";

function closeMenus(except) {
  for (const menu of document.querySelectorAll("details.msg-menu[open], details.usermenu[open]")) {
    if (menu !== except) menu.open = false;
  }
}

export function init() {
  document.addEventListener(
    "toggle",
    (event) => {
      const menu = event.target;
      if (!(menu instanceof HTMLDetailsElement) || !menu.open) return;
      if (menu.matches(MENUS)) closeMenus(menu);
      // An opened menu (or its report form) near the bottom scrolls into view.
      const panel = menu.closest(".msg-menu")?.querySelector(".msg-menu-panel");
      if (panel) panel.scrollIntoView({ block: "nearest" });
    },
    true,
  );
  document.addEventListener("click", (event) => {
    if (!event.target.closest || !event.target.closest(MENUS)) closeMenus(null);
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const menu = event.target.closest ? event.target.closest(MENUS) : null;
    if (menu && !menu.open) return;
    if (menu) {
      menu.open = false;
      menu.querySelector("summary")?.focus();
    }
  });
}

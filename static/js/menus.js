// Menus (<details>: the message menus and the user's menu in the top bar): one open at a
// time; Escape or a click elsewhere closes it. And confirmations: a form with
// data-confirm="<dialog id>" asks in that modal <dialog> first (without JavaScript it posts
// at once, as before).

const MENUS = "details.msg-menu, details.usermenu";

function closeMenus(except) {
  for (const menu of document.querySelectorAll("details.msg-menu[open], details.usermenu[open]")) {
    if (menu !== except) menu.open = false;
  }
}

function confirmFirst(form) {
  const dialog = document.getElementById(form.dataset.confirm);
  if (!(dialog instanceof HTMLDialogElement) || form.dataset.confirmReady) return;
  form.dataset.confirmReady = "1";
  const opener = form.querySelector('[type="submit"]');
  form.addEventListener("submit", (event) => {
    if (form.dataset.confirmed) return;
    event.preventDefault();
    dialog.showModal();
    dialog.querySelector('button[value="cancel"]')?.focus();
  });
  dialog.addEventListener("click", (event) => {
    const button = event.target.closest ? event.target.closest("button[value]") : null;
    if (event.target === dialog) dialog.close(); // a click on the backdrop
    if (!button) return;
    dialog.close();
    if (button.value !== "confirm") return;
    form.dataset.confirmed = "1";
    form.requestSubmit();
  });
  dialog.addEventListener("close", () => {
    if (!form.dataset.confirmed) opener?.focus();
  });
}

// The confirmations of the forms in the page (at load, and in a chat switched in place).
export function bindConfirms() {
  for (const form of document.querySelectorAll("form[data-confirm]")) confirmFirst(form);
}

export function init() {
  bindConfirms();
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

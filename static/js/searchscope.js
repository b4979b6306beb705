// The top bar's search switch: People (the user search) or Messages (the message search).
// The radios belong to no form (nothing extra is submitted); without this module the field
// searches people, and each search page links to the other.

const SCOPES = {
  people: { label: "Search people" },
  messages: { label: "Search messages" },
};

export function init() {
  const form = document.querySelector("form.topsearch");
  if (!form) return;
  const input = form.querySelector('input[type="search"]');
  for (const radio of form.querySelectorAll('input[name="scope"]')) {
    radio.addEventListener("change", () => {
      if (!radio.checked) return;
      const scope = SCOPES[radio.value] ? radio.value : "people";
      form.action = radio.dataset.action;
      input.setAttribute("hx-get", radio.dataset.action);
      input.placeholder = SCOPES[scope].label;
      form.querySelector('label[for="topsearch-q"]').textContent = SCOPES[scope].label;
      if (window.htmx) {
        window.htmx.process(input);
        if (input.value) window.htmx.trigger(input, "search");
      }
      input.focus();
    });
  }
}

// Progressive enhancement only: every page works without JavaScript.
// The classes GOV.UK Frontend's CSS expects are set here, not in an inline script, because the
// Content Security Policy forbids inline script.
import { initAll } from "../govuk/govuk-frontend.min.js";

document.body.classList.add("js-enabled", "govuk-frontend-supported");
initAll();

// A "Print this page" button is only useful (and only shown) when script can print.
for (const button of document.querySelectorAll("[data-module='app-print']")) {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
}

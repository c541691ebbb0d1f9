// Progressive enhancement only: every page works without JavaScript.
// The classes GOV.UK Frontend's CSS expects are set here, not in an inline script, because the
// Content Security Policy forbids inline script.
import { initAll } from "../govuk/govuk-frontend.min.js";

document.body.classList.add("js-enabled", "govuk-frontend-supported");
initAll();

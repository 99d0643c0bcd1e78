import { html } from "../lib/html.js"
import { t } from "../i18n/index.js"
import { link } from "../lib/router.js"
import { Icon } from "../lib/icons.js"

const TABS = {
  field: [
    ["/app/today", "today"],
    ["/app/week", "week"],
    ["/app/records", "records"],
    ["/app/account", "account"],
  ],
  social_worker: [
    ["/app/reviews", "reviews"],
    ["/app/plans", "plans"],
    ["/app/account", "account"],
  ],
  other: [
    ["/app/plans", "plans"],
    ["/app/account", "account"],
  ],
}

/** The tab bar: at the bottom on a phone, within thumb's reach. */
export function NavBar({ role, path }) {
  const tabs = TABS[role] ?? TABS.other
  return html`<nav class="tabs" aria-label=${t.nav.label}>
    ${tabs.map(
      ([href, key]) => html`<a href=${href} onClick=${link} aria-current=${path.startsWith(href) ? "page" : undefined}>
        <${Icon} name=${key} /><span>${t.nav[key]}</span>
      </a>`,
    )}
  </nav>`
}

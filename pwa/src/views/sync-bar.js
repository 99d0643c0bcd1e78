import { html } from "../lib/html.js"
import { t, dateTime } from "../i18n/index.js"

/**
 * The honest sync state: what is still waiting, when the server last confirmed everything, and
 * what went wrong, with a retry.
 */
export function SyncBar({ engine, onSignIn }) {
  const { status, pending, lastSyncAt } = engine
  const label = t.sync.status[status] ?? status
  const detail = [
    pending > 0 ? t.sync.pending(pending) : status === "online" ? t.sync.allSent : null,
    lastSyncAt ? t.sync.last(dateTime(lastSyncAt)) : t.sync.never,
  ].filter(Boolean)
  return html`<div class=${`sync sync-${status}`} role="status" aria-live="polite" data-status=${status} data-pending=${pending}>
    <span class="dot" aria-hidden="true"></span>
    <span class="sync-text">
      <strong>${label}</strong>
      <span>${detail.join(" · ")}</span>
      ${status === "error" && engine.error && html`<span>${engine.error === "unreachable" ? t.sync.unreachable : engine.error}</span>`}
    </span>
    ${status === "error" && html`<button class="button small" onClick=${() => engine.connectNow()}>${t.sync.retry}</button>`}
    ${status === "signin" && html`<button class="button small" onClick=${onSignIn}>${t.sync.signIn}</button>`}
  </div>`
}

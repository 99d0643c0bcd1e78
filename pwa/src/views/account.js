import { useState } from "preact/hooks"
import { html } from "../lib/html.js"
import { t, dateTime } from "../i18n/index.js"
import { loadSession } from "../lib/session.js"

/**
 * Who is signed in, this device, and the two ways to leave: sign out and revoke the device. Both
 * wipe what the device holds, so both say first what has not reached the server.
 */
export function Account({ me, engine, actions }) {
  const [asking, setAsking] = useState(null) // "signout" | "revoke"
  const [error, setError] = useState(null)
  const session = loadSession()
  const pending = engine?.pending ?? 0

  async function run(action) {
    setError(null)
    try {
      await action()
    } catch {
      setError(t.account.failed)
      setAsking(null)
    }
  }

  return html`<section class="stack" aria-labelledby="account-title">
    <div class="page-head"><h1 id="account-title">${t.account.title}</h1></div>
    <div class="card">
      <h2>${[me.given_name, me.family_name].filter(Boolean).join(" ") || me.email}</h2>
      <p>${me.email}</p>
      <p class="muted">${t.roles[me.role] ?? me.role} · ${me.organization?.name}</p>
    </div>
    ${engine && html`<div class="card">
      <h2>${t.account.device}</h2>
      <p>${session?.deviceName}</p>
      <p>${t.sync.status[engine.status]}${engine.lastSyncAt ? ` · ${t.sync.last(dateTime(engine.lastSyncAt))}` : ""}</p>
      <p>${pending > 0 ? t.sync.pending(pending) : t.account.nothingPending}</p>
      <button class="button" onClick=${() => engine.connectNow()} disabled=${!navigator.onLine}>${t.account.syncNow}</button>
    </div>`}
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${asking
      ? html`<div class="card alert" role="alertdialog" aria-labelledby="confirm-title">
          <h2 id="confirm-title">${asking === "revoke" ? t.account.revokeTitle : t.account.signOutTitle}</h2>
          <p>${pending > 0 ? t.account.pendingWarning(pending) : t.account.wipeNotice}</p>
          <div class="actions">
            <button class="button danger" onClick=${() => run(asking === "revoke" ? actions.revokeDevice : actions.signOut)}>
              ${asking === "revoke" ? t.account.revokeYes : t.account.signOutYes}
            </button>
            <button class="button" onClick=${() => setAsking(null)}>${t.common.cancel}</button>
          </div>
        </div>`
      : html`<div class="actions">
          <button class="button" onClick=${() => setAsking("signout")}>${t.account.signOut}</button>
          ${engine && session?.deviceId && html`<button class="button danger" onClick=${() => setAsking("revoke")}>${t.account.revoke}</button>`}
        </div>`}
    ${engine?.status === "revoked" && html`<div class="card alert">
      <h2>${t.account.revokedTitle}</h2>
      <p>${pending > 0 ? t.account.pendingWarning(pending) : t.account.wipeNotice}</p>
      <button class="button danger" onClick=${() => run(actions.wipeRevoked)}>${t.account.wipe}</button>
    </div>`}
  </section>`
}

import { useState } from "preact/hooks"
import { html } from "../lib/html.js"
import { t } from "../i18n/index.js"
import { ApiError, NetworkError } from "../lib/api.js"

/** Sign-in (the one step that needs the network on a field device). */
export function Login({ email: knownEmail, onSignIn }) {
  const [email, setEmail] = useState(knownEmail ?? "")
  const [password, setPassword] = useState("")
  const [error, setError] = useState(null)
  const [busy, setBusy] = useState(false)

  async function submit(event) {
    event.preventDefault()
    setBusy(true)
    setError(null)
    try {
      await onSignIn(email.trim(), password)
    } catch (err) {
      if (err instanceof NetworkError) setError(t.login.offline)
      else if (err instanceof ApiError && err.status === 401) setError(t.login.wrong)
      else if (err instanceof ApiError && err.status === 429) setError(t.login.tooMany)
      else setError(t.login.failed)
      setBusy(false)
    }
  }

  return html`<main class="login">
    <div class="login-card">
      <img src="/icons/icon.svg" alt="" width="64" height="64" />
      <h1>${t.appName}</h1>
      <p class="lead">${t.login.lead}</p>
      ${knownEmail && html`<p class="notice">${t.login.again}</p>`}
      <form onSubmit=${submit} novalidate>
        <label for="email">${t.login.email}</label>
        <input id="email" name="email" type="email" autocomplete="username" required value=${email}
          onInput=${e => setEmail(e.currentTarget.value)} />
        <label for="password">${t.login.password}</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required value=${password}
          onInput=${e => setPassword(e.currentTarget.value)} />
        ${error && html`<p class="error" role="alert">${error}</p>`}
        <button type="submit" class="button primary wide" disabled=${busy || !email || !password}>
          ${busy ? t.login.busy : t.login.submit}
        </button>
      </form>
    </div>
  </main>`
}

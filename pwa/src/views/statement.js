import { useEffect, useState } from "preact/hooks"
import { html } from "../lib/html.js"
import { t, number, dateTime } from "../i18n/index.js"
import { ApiError, api } from "../lib/api.js"
import { loadSession } from "../lib/session.js"

const money = m => new Intl.NumberFormat(t.locale, { style: "currency", currency: m.currency }).format(Number(m.amount))

/** Downloads the export with the bearer token (a plain link would carry no credentials). */
async function download(statement, format) {
  const session = loadSession()
  const res = await fetch(`/api/v1/statements/${statement.id}/export?format=${format}`, {
    headers: { authorization: `Bearer ${session.accessToken}` },
  })
  if (!res.ok) throw new ApiError(res.status, null)
  const url = URL.createObjectURL(await res.blob())
  const a = Object.assign(document.createElement("a"), { href: url, download: `rendiconto-${statement.month}.${format}` })
  a.click()
  URL.revokeObjectURL(url)
}

/** A provider's monthly statement (rendicontazione): lines, totals, what was left out. */
export function StatementView({ statementId }) {
  const [statement, setStatement] = useState(null)
  const [error, setError] = useState(null)
  const [busy, setBusy] = useState(false)
  const load = () => api("GET", `/statements/${statementId}`).then(setStatement, setError)
  useEffect(() => void load(), [statementId])

  async function act(action) {
    setBusy(true)
    setError(null)
    try {
      setStatement(await api("POST", `/statements/${statementId}/${action}`, { ifMatch: statement.version }))
    } catch (err) {
      setError(err)
    }
    setBusy(false)
  }

  if (!statement && error) return html`<section class="card"><p class="error" role="alert">${error.status === 404 ? t.form.notFound : t.online.failed}</p></section>`
  if (!statement) return html`<section class="card"><p>${t.online.loading}</p></section>`
  return html`<section class="stack wide-screen" aria-labelledby="statement-title">
    <div class="page-head">
      <h1 id="statement-title">${t.statement.title(statement.month)}</h1>
      <p class="muted">${statement.provider_name} · ${statement.municipality_name}</p>
      <span class=${`badge badge-statement-${statement.status}`}>${t.statement.status[statement.status]}</span>
    </div>
    <div class="card">
      <table class="table">
        <thead><tr><th>${t.statement.plan}</th><th>${t.statement.service}</th><th class="num">${t.statement.quantity}</th><th class="num">${t.statement.tariff}</th><th class="num">${t.statement.amount}</th></tr></thead>
        <tbody>${statement.lines.map(l => html`<tr>
          <td>${l.beneficiary_pseudonym}</td><td>${l.service_type_code}</td>
          <td class="num">${number(l.quantity, 3)} ${t.unitsShort[l.unit]}</td><td class="num">${money(l.tariff)}</td><td class="num">${money(l.amount)}</td>
        </tr>`)}</tbody>
        <tfoot><tr><th colspan="4">${t.statement.total}</th><th class="num">${money(statement.total)}</th></tr></tfoot>
      </table>
    </div>
    ${statement.excluded_records.length > 0 && html`<div class="card">
      <h2>${t.statement.excluded(statement.excluded_records.length)}</h2>
      <ul>${statement.excluded_records.map(r => html`<li>${r.date} · ${r.service_type_code} · ${t.status[r.status] ?? r.status}</li>`)}</ul>
    </div>`}
    ${error && html`<p class="error" role="alert">${error.message}</p>`}
    <div class="actions">
      <button class="button" onClick=${() => download(statement, "csv").catch(setError)}>${t.statement.csv}</button>
      <button class="button" onClick=${() => download(statement, "json").catch(setError)}>${t.statement.json}</button>
      ${statement.status === "draft" && html`<button class="button primary" disabled=${busy} onClick=${() => act("submit")}>${t.statement.submit}</button>`}
      ${statement.status === "submitted" && html`<button class="button primary" disabled=${busy} onClick=${() => act("approve")}>${t.statement.approve}</button>`}
    </div>
    ${statement.approved_at && html`<p class="muted">${t.statement.approvedAt(dateTime(statement.approved_at))}</p>`}
  </section>`
}

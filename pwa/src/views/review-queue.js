import { useEffect, useState } from "preact/hooks"
import { html } from "../lib/html.js"
import { t, number, dateTime, shortDay } from "../i18n/index.js"
import { ApiError, api } from "../lib/api.js"
import { link, navigate } from "../lib/router.js"
import { flash, useFlash } from "../lib/flash.js"
import { romeDate, romeTime } from "../lib/time.js"
import { beneficiaryName, useReference } from "../lib/reference.js"

const REASONS = ["quantity_mismatch", "not_in_plan", "duplicate", "missing_information", "other"]
const STATUSES = ["", "recorded", "amended", "clarification_requested", "rejected", "validated"]
const PAGE = 50

function query(filters, offset) {
  const q = new URLSearchParams()
  for (const [key, value] of Object.entries(filters)) if (value) q.set(key, value)
  q.set("limit", String(PAGE))
  q.set("offset", String(offset))
  return q.toString()
}

/** The social worker's queue: records waiting for a decision, with their findings. */
export function ReviewQueue({ params, recordId }) {
  const { data: reference, error } = useReference()
  const message = useFlash()
  const filters = {
    care_plan_id: params.get("care_plan_id") ?? "",
    provider_id: params.get("provider_id") ?? "",
    status: params.get("status") ?? "",
    severity: params.get("severity") ?? "",
  }
  const [page, setPage] = useState({ items: null, total: 0, offset: 0 })
  const [reload, setReload] = useState(0)
  const [bulk, setBulk] = useState(null)
  const [loadError, setLoadError] = useState(null)
  const key = recordId ?? query(filters, 0)

  useEffect(() => {
    let live = true
    setLoadError(null)
    const request = recordId
      ? api("GET", `/service-records/${recordId}`).then(r => ({ items: [r], total: 1 }))
      : api("GET", `/reviews?${query(filters, page.offset)}`)
    request.then(
      result => live && setPage(p => ({ ...p, items: result.items, total: result.total })),
      err => live && setLoadError(err),
    )
    return () => (live = false)
  }, [key, page.offset, reload])

  const setFilter = name => event => {
    const next = { ...filters, [name]: event.currentTarget.value }
    setBulk(null)
    setPage({ items: null, total: 0, offset: 0 })
    navigate(`/app/reviews?${query(next, 0).replace(/&?limit=\d+&offset=\d+/, "")}`)
  }

  async function bulkValidate() {
    setBulk({ busy: true })
    try {
      const body = {
        care_plan_id: filters.care_plan_id || null,
        provider_id: filters.provider_id || null,
        status: filters.status || null,
        severity: filters.severity || null,
        note: t.review.bulkNote,
      }
      const outcome = await api("POST", "/reviews/bulk-validate", { body })
      setBulk({ outcome })
      setReload(n => n + 1)
    } catch (err) {
      setBulk({ error: err.message })
    }
  }

  if (error || loadError) {
    return html`<section class="card"><h1>${t.review.title}</h1><p class="error" role="alert">${loadError?.status === 404 ? t.form.notFound : t.online.failed}</p></section>`
  }
  if (!reference || !page.items) return html`<section class="card"><p>${t.online.loading}</p></section>`

  return html`<section class="stack wide-screen" aria-labelledby="review-title">
    <div class="page-head">
      <h1 id="review-title">${recordId ? t.review.recordTitle : t.review.title}</h1>
      ${!recordId && html`<p class="muted">${t.review.count(page.total)}</p>`}
    </div>
    ${message && html`<p class="flash" role="status">${message}</p>`}
    ${recordId && html`<a href="/app/reviews" onClick=${link}>${t.review.back}</a>`}
    ${!recordId && html`<form class="card filters" onSubmit=${e => e.preventDefault()}>
      <div class="field"><label for="q-plan">${t.review.plan}</label>
        <select id="q-plan" value=${filters.care_plan_id} onChange=${setFilter("care_plan_id")}>
          <option value="">${t.review.all}</option>
          ${[...reference.plans.values()].map(p => html`<option value=${p.id}>${beneficiaryName(p)} · ${p.title}</option>`)}
        </select></div>
      <div class="field"><label for="q-provider">${t.review.provider}</label>
        <select id="q-provider" value=${filters.provider_id} onChange=${setFilter("provider_id")}>
          <option value="">${t.review.all}</option>
          ${reference.providers.map(o => html`<option value=${o.id}>${o.name}</option>`)}
        </select></div>
      <div class="field"><label for="q-status">${t.review.status}</label>
        <select id="q-status" value=${filters.status} onChange=${setFilter("status")}>
          ${STATUSES.map(s => html`<option value=${s}>${s ? t.status[s] : t.review.waiting}</option>`)}
        </select></div>
      <div class="field"><label for="q-severity">${t.review.severity}</label>
        <select id="q-severity" value=${filters.severity} onChange=${setFilter("severity")}>
          <option value="">${t.review.any}</option>
          <option value="blocking">${t.severity.blocking}</option>
          <option value="warning">${t.severity.warning}</option>
        </select></div>
    </form>`}
    ${!recordId && (filters.care_plan_id || filters.provider_id) && html`<div class="card bulk">
      <p>${t.review.bulkHint}</p>
      <button class="button primary" onClick=${bulkValidate} disabled=${bulk?.busy}>${t.review.bulk}</button>
      ${bulk?.outcome && html`<p class="flash" role="status">${t.review.bulkDone(bulk.outcome.validated.length, bulk.outcome.skipped.length)}</p>`}
      ${bulk?.error && html`<p class="error" role="alert">${bulk.error}</p>`}
    </div>`}
    ${page.items.length === 0 && html`<div class="card empty"><p>${t.review.empty}</p></div>`}
    <ul class="review-list">
      ${page.items.map(record => html`<${ReviewItem} key=${`${record.id}-${record.version}`} record=${record} reference=${reference}
        detailed=${Boolean(recordId)} onDone=${() => setReload(n => n + 1)} />`)}
    </ul>
    ${!recordId && page.total > PAGE && html`<div class="actions">
      <button class="button" disabled=${page.offset === 0} onClick=${() => setPage(p => ({ ...p, offset: Math.max(0, p.offset - PAGE) }))}>${t.review.previous}</button>
      <span class="muted">${page.offset + 1}–${Math.min(page.total, page.offset + PAGE)} / ${page.total}</span>
      <button class="button" disabled=${page.offset + PAGE >= page.total} onClick=${() => setPage(p => ({ ...p, offset: p.offset + PAGE }))}>${t.review.next}</button>
    </div>`}
  </section>`
}

/** One record with its findings and the decisions a reviewer can take. */
function ReviewItem({ record, reference, detailed, onDone }) {
  const [mode, setMode] = useState(null) // "validate" | "reject" | "clarify"
  const [reason, setReason] = useState("")
  const [note, setNote] = useState("")
  const [error, setError] = useState(null)
  const [busy, setBusy] = useState(false)
  const [history, setHistory] = useState(null)
  const plan = reference.plans.get(record.care_plan_id)
  const type = reference.serviceTypes.get(record.service_type_id)
  const blocking = record.findings.filter(f => f.severity === "blocking" && !f.acknowledgement)
  const start = new Date(record.started_at)
  const decided = ["validated", "rejected"].includes(record.status)

  useEffect(() => {
    if (detailed) api("GET", `/service-records/${record.id}/history`).then(h => setHistory(h.items ?? h.steps ?? []), () => setHistory([]))
  }, [detailed, record.id])

  async function decide() {
    setError(null)
    if (mode !== "validate" && (!reason || !note.trim())) return setError(t.review.reasonRequired)
    if (mode === "validate" && blocking.length > 0 && !note.trim()) return setError(t.review.overrideRequired)
    setBusy(true)
    try {
      const path = `/service-records/${record.id}`
      if (mode === "validate") {
        const body = blocking.length > 0 ? { override_reason: note.trim() } : { note: note.trim() || null }
        await api("POST", `${path}/validate`, { body, ifMatch: record.version })
        flash(t.review.validated)
      } else {
        const action = mode === "reject" ? "reject" : "request-clarification"
        await api("POST", `${path}/${action}`, { body: { reason_code: reason, note: note.trim() }, ifMatch: record.version })
        flash(mode === "reject" ? t.review.rejected : t.review.clarified)
      }
      onDone()
    } catch (err) {
      setBusy(false)
      setError(err instanceof ApiError && err.status === 412 ? t.review.conflict : err.message)
    }
  }

  return html`<li class="card review-item" data-record=${record.id}>
    <div class="review-head">
      <div>
        <h2><a href=${`/app/plans/${record.care_plan_id}`} onClick=${link}>${beneficiaryName(plan)}</a></h2>
        <p>${shortDay(romeDate(start))} · ${romeTime(start)}${record.ended_at ? `–${romeTime(new Date(record.ended_at))}` : ` · ${t.record.inProgress}`}
          ${" "}· ${type?.name ?? type?.code} · ${record.missed ? t.record.missedShort : `${number(record.quantity)} ${t.unitsShort[type?.unit] ?? ""}`}</p>
        <p class="muted">${record.operator_name} · ${t.review.received(dateTime(record.received_at))}</p>
      </div>
      <span class=${`badge badge-${record.status}`}>${t.status[record.status]}</span>
    </div>
    ${record.missed && html`<p>${t.form.missed}: ${t.missedReasons[record.missed_reason] ?? t.review.noReason}</p>`}
    ${(record.origin || record.destination) && html`<p>${record.origin} → ${record.destination}${record.km != null ? ` · ${number(record.km)} km` : ""}</p>`}
    ${record.notes && html`<p class="notes">${record.notes}</p>`}
    ${record.findings.length > 0
      ? html`<ul class="findings">${record.findings.map(f => html`<li class=${`finding finding-${f.severity}`}>
          <span class=${`badge badge-${f.severity}`}>${t.severity[f.severity]}</span>
          <span>${f.message}</span>
          ${f.acknowledgement && html`<span class="muted">${t.review.acknowledged}</span>`}
        </li>`)}</ul>`
      : html`<p class="clean">${t.review.noFindings}</p>`}
    ${record.review?.note && html`<p class="muted">${t.review.lastDecision}: ${record.review.note}</p>`}
    ${mode
      ? html`<div class="decision">
          ${mode !== "validate" && html`<div class="field"><label for=${`r-${record.id}`}>${t.review.reason}</label>
            <select id=${`r-${record.id}`} value=${reason} onChange=${e => setReason(e.currentTarget.value)}>
              <option value="">${t.form.choose}</option>
              ${REASONS.map(r => html`<option value=${r}>${t.reviewReasons[r]}</option>`)}
            </select></div>`}
          <div class="field"><label for=${`n-${record.id}`}>${mode === "validate" ? (blocking.length > 0 ? t.review.override : t.review.note) : t.review.explain}</label>
            <textarea id=${`n-${record.id}`} rows="2" maxlength="2000" value=${note} onInput=${e => setNote(e.currentTarget.value)}></textarea></div>
          ${error && html`<p class="error" role="alert">${error}</p>`}
          <div class="actions">
            <button class=${`button ${mode === "validate" ? "primary" : "danger"}`} onClick=${decide} disabled=${busy}>${t.review.confirm[mode]}</button>
            <button class="button" onClick=${() => setMode(null)}>${t.common.cancel}</button>
          </div>
        </div>`
      : !decided &&
        html`<div class="actions">
          <button class="button primary" onClick=${() => setMode("validate")}>${t.review.validate}</button>
          <button class="button danger" onClick=${() => setMode("reject")}>${t.review.reject}</button>
          <button class="button" onClick=${() => setMode("clarify")}>${t.review.clarify}</button>
          ${!detailed && html`<a class="button" href=${`/app/service-records/${record.id}`} onClick=${link}>${t.review.details}</a>`}
        </div>`}
    ${decided && html`<p class="muted">${t.review.decided}</p>`}
    ${history && html`<div class="history"><h3>${t.review.history}</h3><ol>
      ${history.map(step => html`<li><span>${dateTime(step.occurred_at)}</span> · ${t.historyActions[step.action] ?? step.action}
        ${step.reason_code ? ` · ${t.reviewReasons[step.reason_code] ?? step.reason_code}` : ""}${step.note ? ` — ${step.note}` : ""}</li>`)}
    </ol></div>`}
  </li>`
}

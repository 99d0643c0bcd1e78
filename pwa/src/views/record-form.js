import { useState } from "preact/hooks"
import { html } from "../lib/html.js"
import { t } from "../i18n/index.js"
import { navigate } from "../lib/router.js"
import { flash } from "../lib/flash.js"
import { fromRome, romeDate, romeTime } from "../lib/time.js"
import { editable, plansOf } from "../model.js"
import { recordChange, tombstoneChange } from "../sync/documents.js"
import { Arriving, StatusBadge } from "./parts.js"

const MISSED_REASONS = ["beneficiary_absent", "beneficiary_refused", "beneficiary_hospitalized", "operator_unavailable", "other"]
const NOTES_MAX = 2000

function isTransport(service) {
  return service?.unit === "trip" || service?.unit === "km"
}

/** The form's values from a record (or the defaults of a new one). */
function initial(record, plan, serviceTypeId) {
  if (record) {
    const start = new Date(record.startedAt)
    return {
      planId: record.carePlanId,
      serviceTypeId: record.serviceTypeId,
      date: romeDate(start),
      start: romeTime(start),
      end: record.endedAt ? romeTime(new Date(record.endedAt)) : "",
      km: record.km === undefined ? "" : String(record.km).replace(".", ","),
      origin: record.origin ?? "",
      destination: record.destination ?? "",
      missed: record.missed,
      missedReason: record.missedReason ?? "",
      notes: record.notes,
    }
  }
  const now = new Date()
  return {
    planId: plan?.carePlanId ?? "",
    serviceTypeId: serviceTypeId ?? (plan?.services.length === 1 ? plan.services[0].serviceTypeId : ""),
    date: romeDate(now),
    start: romeTime(new Date(now.getTime() - 3_600_000)),
    end: romeTime(now),
    km: "",
    origin: "",
    destination: "",
    missed: false,
    missedReason: "",
    notes: "",
  }
}

/** Checks the form; returns {errors, fields} with the document fields when valid. */
function check(values, service, existing, initialValues) {
  const errors = {}
  if (!values.planId) errors.planId = t.form.errors.plan
  if (!values.serviceTypeId) errors.serviceTypeId = t.form.errors.service
  if (!/^\d{4}-\d{2}-\d{2}$/.test(values.date)) errors.date = t.form.errors.date
  if (!/^\d{2}:\d{2}$/.test(values.start)) errors.start = t.form.errors.start
  if (values.end && !/^\d{2}:\d{2}$/.test(values.end)) errors.end = t.form.errors.end
  let startedAt, endedAt
  // Times untouched keep their seconds (a visit timed at the door); typed ones are minutes.
  const same = key => existing && values.date === initialValues.date && values[key] === initialValues[key]
  if (!errors.date && !errors.start) {
    startedAt = same("start") ? new Date(existing.startedAt) : fromRome(values.date, values.start)
    if (startedAt.getTime() > Date.now() + 5 * 60_000) errors.start = t.form.errors.future
  }
  if (startedAt && values.end && !errors.end && !values.missed) {
    endedAt = same("end") && existing.endedAt ? new Date(existing.endedAt) : fromRome(values.date, values.end)
    if (endedAt <= startedAt) errors.end = t.form.errors.endBeforeStart
  }
  let km
  if (isTransport(service) && !values.missed) {
    if (values.km.trim() !== "") {
      km = Number(values.km.replace(",", "."))
      if (!Number.isFinite(km) || km < 0 || km > 2000) errors.km = t.form.errors.km
    } else if (service.unit === "km") errors.km = t.form.errors.kmRequired
    if (!values.origin.trim()) errors.origin = t.form.errors.origin
    if (!values.destination.trim()) errors.destination = t.form.errors.destination
  }
  if (values.missed && !values.missedReason) errors.missedReason = t.form.errors.missedReason
  if (values.notes.length > NOTES_MAX) errors.notes = t.form.errors.notes(NOTES_MAX)
  if (Object.keys(errors).length > 0) return { errors }
  const transport = isTransport(service) && !values.missed
  return {
    errors,
    fields: {
      service_type_id: values.serviceTypeId,
      started_at: startedAt.toISOString(),
      ended_at: values.missed ? undefined : endedAt?.toISOString(),
      km: transport ? km : undefined,
      origin: transport ? values.origin.trim() : undefined,
      destination: transport ? values.destination.trim() : undefined,
      notes: values.notes,
      missed: values.missed,
      missed_reason: values.missed ? values.missedReason : undefined,
      recorded_at: existing?.recordedAt ?? new Date().toISOString(),
    },
  }
}

/** New record, or the record `recordId` (to complete, correct, or amend after a rejection). */
export function RecordForm({ engine, me, recordId, planId, serviceTypeId }) {
  const plans = plansOf(engine, me.id)
  const existing = recordId ? plans.flatMap(p => p.records).find(r => r.id === recordId) : null
  // Opened at this address after a reload, the form waits for its plan or record to load.
  const waiting = recordId ? !existing : planId && !plans.some(p => p.carePlanId === planId)
  if (waiting) {
    // Still opening, or its document may be among those not arrived yet.
    const loading = !engine.opened || engine.arriving > 0
    const [title, body] = recordId ? [t.form.notFound, t.form.notFoundBody] : [t.form.planNotFound, t.form.planNotFoundBody]
    return html`<section class="stack"><div class="card"><h1>${loading ? t.today.loading : title}</h1>
      ${!loading && html`<p>${body}</p>`}</div><${Arriving} engine=${engine} /></section>`
  }
  // Keyed: the form starts from the record once its document has loaded.
  return html`<${FormBody} key=${existing?.id ?? "new"} engine=${engine} plans=${plans} existing=${existing}
    planId=${planId} serviceTypeId=${serviceTypeId} />`
}

function FormBody({ engine, plans, existing, planId, serviceTypeId }) {
  const [initialValues] = useState(() => initial(existing, plans.find(p => p.carePlanId === planId), serviceTypeId))
  const [values, setValues] = useState(initialValues)
  const [errors, setErrors] = useState({})
  const [busy, setBusy] = useState(false)
  const [confirmDelete, setConfirmDelete] = useState(false)

  const plan = plans.find(p => p.carePlanId === values.planId)
  const service = plan?.services.find(s => s.serviceTypeId === values.serviceTypeId)
  const locked = existing && !editable(existing)
  const set = key => event => {
    const target = event.currentTarget
    setValues({ ...values, [key]: target.type === "checkbox" ? target.checked : target.value })
    if (errors[key]) setErrors({ ...errors, [key]: undefined })
  }

  async function save(event) {
    event.preventDefault()
    const result = check(values, service, existing, initialValues)
    setErrors(result.errors)
    if (!result.fields) {
      document.querySelector("[aria-invalid=true]")?.focus()
      return
    }
    setBusy(true)
    const id = existing?.id ?? crypto.randomUUID()
    const started = performance.now()
    const changed = await engine.write(plan.diaryUrl, id, recordChange(id, result.fields))
    const ms = performance.now() - started
    // The end-to-end tests and the benchmark read how long the save took.
    document.documentElement.dataset.lastSaveMs = ms.toFixed(1)
    flash(changed ? t.form.saved : t.form.unchanged)
    navigate("/app/today")
  }

  async function remove() {
    setBusy(true)
    await engine.write(plan.diaryUrl, existing.id, tombstoneChange(existing.id, new Date().toISOString()))
    flash(t.form.deleted)
    navigate("/app/records")
  }

  const field = (key, label, input, hint) => html`<div class=${`field${errors[key] ? " invalid" : ""}`}>
    <label for=${`f-${key}`}>${label}</label>
    ${input}
    ${hint && html`<p class="hint" id=${`h-${key}`}>${hint}</p>`}
    ${errors[key] && html`<p class="error" id=${`e-${key}`}>${errors[key]}</p>`}
  </div>`
  const attrs = key => ({
    id: `f-${key}`,
    name: key,
    "aria-invalid": errors[key] ? "true" : undefined,
    "aria-describedby": errors[key] ? `e-${key}` : undefined,
    disabled: locked || busy,
  })

  return html`<section class="stack">
    <div class="page-head">
      <h1>${existing ? t.form.editTitle : t.form.newTitle}</h1>
      ${existing && html`<${StatusBadge} record=${existing} />`}
    </div>
    ${existing?.review && ["rejected", "clarification_requested"].includes(existing.review.status) && html`<div class="card alert" role="note">
      <strong>${t.status[existing.review.status]}</strong>
      <p>${t.reviewReasons[existing.review.reasonCode] ?? ""}${existing.review.note ? `: ${existing.review.note}` : ""}</p>
      <p class="muted">${t.form.amendHint}</p>
    </div>`}
    ${locked && html`<p class="notice">${t.form.locked}</p>`}
    <form class="card form" onSubmit=${save} novalidate>
      ${existing || planId
        ? html`<p class="fixed"><span class="muted">${t.form.plan}</span> <strong>${plan?.beneficiary.name}</strong></p>`
        : field("planId", t.form.plan, html`<select ...${attrs("planId")} value=${values.planId} onChange=${e => setValues({ ...values, planId: e.currentTarget.value, serviceTypeId: "" })}>
            <option value="">${t.form.choose}</option>
            ${plans.filter(p => p.status === "active").map(p => html`<option value=${p.carePlanId}>${p.beneficiary.name}</option>`)}
          </select>`)}
      ${field("serviceTypeId", t.form.service, html`<select ...${attrs("serviceTypeId")} value=${values.serviceTypeId} onChange=${set("serviceTypeId")}>
        <option value="">${t.form.choose}</option>
        ${(plan?.services ?? []).map(s => html`<option value=${s.serviceTypeId}>${s.name}</option>`)}
      </select>`)}
      <div class="field check">
        <input type="checkbox" id="f-missed" name="missed" checked=${values.missed} onChange=${set("missed")} disabled=${locked || busy} />
        <label for="f-missed">${t.form.missed}</label>
      </div>
      ${values.missed && field("missedReason", t.form.missedReason, html`<select ...${attrs("missedReason")} value=${values.missedReason} onChange=${set("missedReason")}>
        <option value="">${t.form.choose}</option>
        ${MISSED_REASONS.map(r => html`<option value=${r}>${t.missedReasons[r]}</option>`)}
      </select>`)}
      ${field("date", t.form.date, html`<input type="date" ...${attrs("date")} value=${values.date} onInput=${set("date")} />`)}
      <div class="row">
        ${field("start", values.missed ? t.form.plannedAt : t.form.start, html`<input type="time" ...${attrs("start")} value=${values.start} onInput=${set("start")} />`)}
        ${!values.missed && field("end", t.form.end, html`<input type="time" ...${attrs("end")} value=${values.end} onInput=${set("end")} />`, existing && !existing.endedAt ? t.form.openHint : null)}
      </div>
      ${isTransport(service) && !values.missed && html`<fieldset class="transport">
        <legend>${t.form.transport}</legend>
        ${field("origin", t.form.origin, html`<input type="text" autocomplete="off" maxlength="300" ...${attrs("origin")} value=${values.origin} onInput=${set("origin")} />`)}
        ${field("destination", t.form.destination, html`<input type="text" autocomplete="off" maxlength="300" ...${attrs("destination")} value=${values.destination} onInput=${set("destination")} />`)}
        ${field("km", t.form.km, html`<input type="text" inputmode="decimal" ...${attrs("km")} value=${values.km} onInput=${set("km")} />`)}
      </fieldset>`}
      ${field("notes", t.form.notes, html`<textarea rows="3" ...${attrs("notes")} value=${values.notes} onInput=${set("notes")}></textarea>`, t.form.notesHint)}
      ${!locked && html`<div class="actions">
        <button type="submit" class="button primary big wide" disabled=${busy}>${existing ? t.form.saveChanges : t.form.save}</button>
      </div>`}
    </form>
    ${existing && !locked && !existing.review && html`<div class="danger-zone">
      ${confirmDelete
        ? html`<p>${t.form.deleteConfirm}</p>
            <div class="actions">
              <button class="button danger" onClick=${remove} disabled=${busy}>${t.form.deleteYes}</button>
              <button class="button" onClick=${() => setConfirmDelete(false)}>${t.common.cancel}</button>
            </div>`
        : html`<button class="button link-danger" onClick=${() => setConfirmDelete(true)}>${t.form.delete}</button>`}
    </div>`}
  </section>`
}


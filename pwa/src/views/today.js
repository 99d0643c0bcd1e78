import { useEffect, useState } from "preact/hooks"
import { html } from "../lib/html.js"
import { t, longDay, number } from "../i18n/index.js"
import { Icon } from "../lib/icons.js"
import { link, navigate } from "../lib/router.js"
import { flash, useFlash } from "../lib/flash.js"
import { minutesBetween, romeDate } from "../lib/time.js"
import { openVisit, plansOf, recordFields, sentBack, usage } from "../model.js"
import { recordChange } from "../sync/documents.js"
import { Arriving, RecordRow } from "./parts.js"

/** Refreshes every `ms` (the running visit's timer). */
function useClock(ms) {
  const [now, setNow] = useState(() => new Date())
  useEffect(() => {
    const timer = setInterval(() => setNow(new Date()), ms)
    return () => clearInterval(timer)
  }, [ms])
  return now
}

/** Starts a visit now: the record exists from the first tap, so closing the app loses nothing. */
async function startVisit(engine, plan, service) {
  const id = crypto.randomUUID()
  const now = new Date().toISOString()
  await engine.write(plan.diaryUrl, id, recordChange(id, { service_type_id: service.serviceTypeId, started_at: now, recorded_at: now }))
  flash(t.today.started)
}

async function stopVisit(engine, plan, record) {
  const fields = recordFields(record)
  fields.ended_at = new Date().toISOString()
  await engine.write(plan.diaryUrl, record.id, recordChange(record.id, fields))
  flash(t.today.stopped)
  navigate(`/app/service-records/${record.id}`)
}

export function Today({ engine, me }) {
  const now = useClock(30_000)
  const message = useFlash()
  const [choosing, setChoosing] = useState(null)
  const today = romeDate(now)
  const plans = plansOf(engine, me.id)
  const running = openVisit(plans)
  const toFix = plans.flatMap(p => p.records).filter(sentBack).length

  return html`<section class="stack" aria-labelledby="today-title">
    <div class="page-head">
      <h1 id="today-title">${t.today.title}</h1>
      <p class="muted">${longDay(today)}</p>
    </div>
    ${message && html`<p class="flash" role="status">${message}</p>`}
    ${toFix > 0 && html`<a class="card alert" href="/app/records?filter=sent-back" onClick=${link}>
      <${Icon} name="alert" /> <span>${t.today.toFix(toFix)}</span></a>`}
    ${running && html`<div class="card running" data-running=${running.record.id}>
      <div>
        <p class="eyebrow">${t.today.running}</p>
        <h2>${running.plan.beneficiary.name}</h2>
        <p>${running.record.service?.name} · ${t.today.since(minutesBetween(new Date(running.record.startedAt), now))}</p>
      </div>
      <button class="button danger big" onClick=${() => stopVisit(engine, running.plan, running.record)}>
        <${Icon} name="stop" /> ${t.today.stop}
      </button>
    </div>`}
    ${!engine.opened && html`<div class="card loading"><p>${t.today.loading}</p></div>`}
    ${engine.opened && plans.length === 0 && engine.arriving === 0 && html`<div class="card empty"><p>${t.today.noPlans}</p></div>`}
    ${engine.opened && plans.map(plan => {
      const todays = plan.records.filter(r => r.day === today)
      const active = plan.status === "active" && (!plan.validTo || plan.validTo >= today) && (!plan.validFrom || plan.validFrom <= today)
      return html`<article class="card plan" data-plan=${plan.carePlanId}>
        <header class="plan-head">
          <h2>${plan.beneficiary.name}</h2>
          ${plan.status !== "active" && html`<span class="badge badge-rejected">${t.planStatus[plan.status] ?? plan.status}</span>`}
        </header>
        ${plan.beneficiary.address && html`<p class="line"><${Icon} name="pin" size="18" /> ${plan.beneficiary.address}</p>`}
        ${plan.beneficiary.phone && html`<p class="line"><${Icon} name="phone" size="18" /> <a href=${`tel:${plan.beneficiary.phone}`}>${plan.beneficiary.phone}</a></p>`}
        ${plan.beneficiary.accessNotes && html`<p class="access-notes">${plan.beneficiary.accessNotes}</p>`}
        <ul class="usage">
          ${usage(plan, today).map(
            ({ service, used }) => html`<li class=${used > service.allowance ? "over" : ""}>
              <span>${service.name}</span>
              <span>${t.today.usage(number(used), number(service.allowance), t.unitsShort[service.unit], t.periods[service.period])}</span>
            </li>`,
          )}
        </ul>
        ${todays.length > 0 && html`<ul class="records">${todays.map(r => html`<${RecordRow} record=${r} />`)}</ul>`}
        ${active && !running && (choosing === plan.carePlanId
          ? html`<div class="choices" role="group" aria-label=${t.today.chooseService}>
              ${plan.services.map(
                s => html`<button class="button primary big" onClick=${() => { setChoosing(null); void startVisit(engine, plan, s) }}>
                  <${Icon} name="play" /> ${s.name}</button>`,
              )}
              <button class="button" onClick=${() => setChoosing(null)}>${t.common.cancel}</button>
            </div>`
          : html`<div class="actions">
              <button class="button primary big" onClick=${() =>
                plan.services.length === 1 ? void startVisit(engine, plan, plan.services[0]) : setChoosing(plan.carePlanId)}>
                <${Icon} name="play" /> ${t.today.start}
              </button>
              <a class="button big" href=${`/app/records/new?plan=${plan.carePlanId}`} onClick=${link}>
                <${Icon} name="plus" /> ${t.today.record}
              </a>
            </div>`)}
      </article>`
    })}
    <${Arriving} engine=${engine} />
  </section>`
}

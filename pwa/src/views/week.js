import { useState } from "preact/hooks"
import { html } from "../lib/html.js"
import { t, number, shortDay } from "../i18n/index.js"
import { Icon } from "../lib/icons.js"
import { addDays, isoWeek, romeDate, weekStart } from "../lib/time.js"
import { plansOf, usage } from "../model.js"
import { Arriving, RecordRow } from "./parts.js"

/** The week, day by day, with each plan's use of its weekly allowance. */
export function Week({ engine, me }) {
  const [monday, setMonday] = useState(() => weekStart(romeDate(new Date())))
  const plans = plansOf(engine, me.id)
  const days = Array.from({ length: 7 }, (_, i) => addDays(monday, i))
  const records = plans.flatMap(p => p.records.map(r => ({ record: r, name: p.beneficiary.name })))
  return html`<section class="stack" aria-labelledby="week-title">
    <div class="page-head week-head">
      <button class="button icon-only" onClick=${() => setMonday(addDays(monday, -7))} aria-label=${t.week.previous}><${Icon} name="back" /></button>
      <div>
        <h1 id="week-title">${t.week.title(isoWeek(monday).slice(-2))}</h1>
        <p class="muted">${shortDay(monday)} – ${shortDay(days[6])}</p>
      </div>
      <button class="button icon-only" onClick=${() => setMonday(addDays(monday, 7))} aria-label=${t.week.next}><${Icon} name="next" /></button>
    </div>
    <div class="card">
      <h2>${t.week.allowances}</h2>
      <div class="table-wrap" tabindex="0" role="region" aria-label=${t.week.allowances}><table class="table">
        <thead><tr><th>${t.week.plan}</th><th>${t.week.service}</th><th class="num">${t.week.done}</th></tr></thead>
        <tbody>
          ${plans.flatMap(plan =>
            usage(plan, monday).map(({ service, used }) => html`<tr class=${used > service.allowance ? "over" : ""}>
              <td>${plan.beneficiary.name}</td><td>${service.code}</td>
              <td class="num">${number(used)} / ${number(service.allowance)} ${t.unitsShort[service.unit]}${service.period === "month" ? ` ${t.periods.month}` : ""}</td>
            </tr>`),
          )}
        </tbody>
      </table></div>
    </div>
    ${days.map(day => {
      const list = records.filter(x => x.record.day === day).sort((a, b) => a.record.startedAt.localeCompare(b.record.startedAt))
      return html`<div class="card day">
        <h2>${shortDay(day)}</h2>
        ${list.length === 0
          ? html`<p class="muted">${t.week.none}</p>`
          : html`<ul class="records">${list.map(x => html`<${RecordRow} record=${x.record} beneficiary=${x.name} />`)}</ul>`}
      </div>`
    })}
    <${Arriving} engine=${engine} />
  </section>`
}

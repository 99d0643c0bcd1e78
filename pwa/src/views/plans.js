import { useEffect, useState } from "preact/hooks"
import { html } from "../lib/html.js"
import { t, fullDay, monthName, number, shortDay } from "../i18n/index.js"
import { api, apiAll } from "../lib/api.js"
import { link } from "../lib/router.js"
import { addDays, isoWeek, month, romeDate, weekStart } from "../lib/time.js"
import { beneficiaryName, useReference } from "../lib/reference.js"

const WEEKS = 8
const MONTHS = 4
const PENDING = new Set(["recorded", "amended", "clarification_requested"])

/** The plans the caller may see. */
export function PlanList() {
  const { data: reference, error } = useReference()
  if (error) return html`<section class="card"><p class="error" role="alert">${t.online.failed}</p></section>`
  if (!reference) return html`<section class="card"><p>${t.online.loading}</p></section>`
  const plans = [...reference.plans.values()].sort((a, b) => beneficiaryName(a).localeCompare(beneficiaryName(b), "it"))
  return html`<section class="stack wide-screen" aria-labelledby="plans-title">
    <div class="page-head"><h1 id="plans-title">${t.plans.title}</h1></div>
    <ul class="plan-list">
      ${plans.map(p => html`<li class="card">
        <a class="plan-link" href=${`/app/plans/${p.id}`} onClick=${link}>
          <strong>${beneficiaryName(p)}</strong>
          <span>${p.title}</span>
          <span class="muted">${reference.organizations.get(p.provider_id)?.name ?? ""} · ${fullDay(p.valid_from)} – ${fullDay(p.valid_to)}</span>
        </a>
        <span class=${`badge badge-plan-${p.status}`}>${t.planStatus[p.status] ?? p.status}</span>
      </li>`)}
    </ul>
  </section>`
}

/**
 * Planned against delivered for each planned service, per ISO week or month (as its allowance
 * counts): validated, still waiting for review, and what is left.
 */
export function summarize(plan, records, today) {
  return plan.planned_services.map(service => {
    const periods = []
    if (service.allowance_period === "week") {
      for (let i = WEEKS - 1; i >= 0; i--) {
      const monday = addDays(weekStart(today), -7 * i)
      periods.push({ key: isoWeek(monday), label: t.plans.weekOf(isoWeek(monday).slice(-2), shortDay(monday)) })
    }
    } else {
      const [y, m] = today.split("-").map(Number)
      for (let i = MONTHS - 1; i >= 0; i--) {
        const key = new Date(Date.UTC(y, m - 1 - i, 1)).toISOString().slice(0, 7)
        periods.push({ key, label: monthName(key) })
      }
    }
    const rows = periods.map(({ key: period, label }) => {
      const mine = records.filter(r => {
        if (r.service_type_id !== service.service_type_id) return false
        const day = romeDate(new Date(r.started_at))
        return (service.allowance_period === "week" ? isoWeek(day) : month(day)) === period
      })
      const sum = list => list.reduce((n, r) => n + r.quantity, 0)
      const validated = sum(mine.filter(r => r.status === "validated"))
      const pending = sum(mine.filter(r => PENDING.has(r.status)))
      return { period: label, validated, pending, left: service.allowance - validated - pending }
    })
    return { service, rows }
  })
}

export function PlanDetail({ planId }) {
  const [state, setState] = useState(null)
  useEffect(() => {
    const today = romeDate(new Date())
    const from = new Date(`${addDays(weekStart(today), -7 * WEEKS)}T00:00:00Z`)
    const monthsBack = new Date(`${today.slice(0, 7)}-01T00:00:00Z`)
    monthsBack.setUTCMonth(monthsBack.getUTCMonth() - MONTHS)
    const since = new Date(Math.min(from, monthsBack)).toISOString()
    Promise.all([api("GET", `/care-plans/${planId}`), apiAll(`/service-records?care_plan_id=${planId}&from=${encodeURIComponent(since)}`)]).then(
      ([plan, records]) => setState({ plan, records, today }),
      error => setState({ error }),
    )
  }, [planId])
  if (!state) return html`<section class="card"><p>${t.online.loading}</p></section>`
  if (state.error) return html`<section class="card"><p class="error" role="alert">${state.error.status === 404 ? t.form.notFound : t.online.failed}</p></section>`
  const { plan, records, today } = state
  return html`<section class="stack wide-screen" aria-labelledby="plan-title">
    <div class="page-head">
      <h1 id="plan-title">${beneficiaryName(plan)}</h1>
      <p class="muted">${plan.title} · ${t.planStatus[plan.status]} · ${fullDay(plan.valid_from)} – ${fullDay(plan.valid_to)}</p>
    </div>
    <a class="button" href=${`/app/reviews?care_plan_id=${plan.id}`} onClick=${link}>${t.plans.toReview}</a>
    ${summarize(plan, records, today).map(({ service, rows }) => html`<div class="card">
      <h2>${service.service_type_code} · ${t.plans.allowance(number(service.allowance), t.unitsShort[service.unit], t.periods[service.allowance_period])}</h2>
      <div class="table-wrap" tabindex="0" role="region" aria-label=${service.service_type_code}><table class="table usage-table">
        <thead><tr>
          <th>${service.allowance_period === "week" ? t.plans.week : t.plans.month}</th>
          <th class="num">${t.plans.validated}</th><th class="num">${t.plans.pending}</th><th class="num">${t.plans.left}</th><th aria-hidden="true"></th>
        </tr></thead>
        <tbody>${rows.map(row => {
          const scale = Math.max(service.allowance, row.validated + row.pending, 0.001)
          return html`<tr class=${row.left < 0 ? "over" : ""}>
            <td>${row.period}</td>
            <td class="num">${number(row.validated)}</td>
            <td class="num">${number(row.pending)}</td>
            <td class="num">${number(row.left)}</td>
            <td class="bar-cell" aria-hidden="true"><span class="bar">
              <span class="bar-validated" style=${{ width: `${(100 * row.validated) / scale}%` }}></span>
              <span class="bar-pending" style=${{ width: `${(100 * row.pending) / scale}%` }}></span>
              <span class="bar-mark" style=${{ left: `${(100 * service.allowance) / scale}%` }}></span>
            </span></td>
          </tr>`
        })}</tbody>
      </table></div>
    </div>`)}
  </section>`
}

import { html } from "../lib/html.js"
import { t, shortDay } from "../i18n/index.js"
import { link } from "../lib/router.js"
import { plansOf, sentBack } from "../model.js"
import { Arriving, RecordRow } from "./parts.js"

const FILTERS = {
  all: () => true,
  "sent-back": sentBack,
  pending: r => r.pending,
}

/** Every record of the operator, newest first, with where it is in its review. */
export function Records({ engine, me, filter }) {
  const chosen = FILTERS[filter] ? filter : "all"
  const plans = plansOf(engine, me.id)
  const records = plans
    .flatMap(p => p.records.map(r => ({ record: r, name: p.beneficiary.name })))
    .filter(x => FILTERS[chosen](x.record))
    .sort((a, b) => b.record.startedAt.localeCompare(a.record.startedAt))
  return html`<section class="stack" aria-labelledby="records-title">
    <div class="page-head"><h1 id="records-title">${t.records.title}</h1></div>
    <nav class="segmented" aria-label=${t.records.filter}>
      ${Object.keys(FILTERS).map(
        key => html`<a href=${key === "all" ? "/app/records" : `/app/records?filter=${key}`} onClick=${link}
          aria-current=${key === chosen ? "page" : undefined}>${t.records.filters[key]}</a>`,
      )}
    </nav>
    ${!engine.opened
      ? html`<div class="card loading"><p>${t.today.loading}</p></div>`
      : records.length === 0
      ? html`<div class="card empty"><p>${t.records.none}</p></div>`
      : html`<ul class="records card">${records.map(x => html`<${RecordRow} record=${x.record} beneficiary=${x.name} showDay=${shortDay(x.record.day)} />`)}</ul>`}
    <${Arriving} engine=${engine} />
  </section>`
}

// Small pieces the operator's screens share.
import { html } from "../lib/html.js"
import { t, number } from "../i18n/index.js"
import { romeTime } from "../lib/time.js"
import { link } from "../lib/router.js"

/** Where a record is: waiting to be sent, then the reviewer's outcome. */
export function StatusBadge({ record }) {
  if (record.pending) return html`<span class="badge badge-pending">${t.status.pending}</span>`
  const status = record.review?.status ?? "recorded"
  return html`<span class=${`badge badge-${status}`}>${t.status[status] ?? status}</span>`
}

/** `09:00-10:30` (or `09:00 - in corso`). */
export function timeRange(record) {
  const start = romeTime(new Date(record.startedAt))
  if (record.missed) return start
  return record.endedAt ? `${start}–${romeTime(new Date(record.endedAt))}` : `${start} – ${t.record.inProgress}`
}

/** The quantity in its unit: `1,5 h`, `12 km`, `1 viaggio`. */
export function quantityLabel(record) {
  if (record.missed) return t.record.missedShort
  return t.units[record.service?.unit ?? "access"](number(record.quantity))
}

/** Says which plans have not reached the phone yet (nothing when all have). */
export function Arriving({ engine }) {
  const n = engine.opened ? engine.arriving : 0
  if (n === 0) return null
  const syncing = engine.status === "online" || engine.status === "connecting"
  const text = syncing ? t.arriving.online(n) : t.arriving.offline(n)
  return html`<p class="card arriving muted" data-arriving=${n}>${text}</p>`
}

/** One record in a list; opens its form. */
export function RecordRow({ record, beneficiary, showDay }) {
  return html`<li>
    <a class="record-row" href=${`/app/service-records/${record.id}`} onClick=${link} data-record=${record.id}>
      <span class="record-main">
        <strong>${showDay ? `${showDay} · ` : ""}${timeRange(record)}</strong>
        <span>${[beneficiary, record.service?.name ?? t.record.unknownService].filter(Boolean).join(" · ")}</span>
        ${record.missed && html`<span class="muted">${t.missedReasons[record.missedReason] ?? t.record.missedShort}</span>`}
        ${record.review?.note && !record.pending && html`<span class="review-note">${t.reviewReasons[record.review.reasonCode] ?? ""}${record.review.reasonCode ? ": " : ""}${record.review.note}</span>`}
      </span>
      <span class="record-side">
        <span>${quantityLabel(record)}</span>
        <${StatusBadge} record=${record} />
      </span>
    </a>
  </li>`
}

// What the operator's screens show, derived from the synced documents: each plan with its
// beneficiary, planned services and the operator's own records, each record with its review
// outcome and whether the server has it yet.

import { readPlan, readRecords } from "./sync/documents.js"
import { isoWeek, month, romeDate } from "./lib/time.js"

/** Plans the user records on, each with the diary they write into. */
export function plansOf(engine, userId) {
  const byPlan = new Map()
  for (const doc of engine.documents) {
    const entry = byPlan.get(doc.care_plan_id) ?? { carePlanId: doc.care_plan_id }
    if (doc.kind === "plan") entry.planUrl = doc.url
    else if (doc.operator_id === userId && doc.access === "read_write") entry.diary = doc
    byPlan.set(doc.care_plan_id, entry)
  }
  const plans = []
  for (const entry of byPlan.values()) {
    const planHandle = entry.planUrl && engine.handle(entry.planUrl)
    const diaryHandle = entry.diary && engine.handle(entry.diary.url)
    if (!planHandle || !diaryHandle) continue
    const plan = readPlan(planHandle.doc())
    const records = readRecords(diaryHandle.doc()).map(r => describe(r, plan, engine, diaryHandle.documentId))
    records.sort((a, b) => b.startedAt.localeCompare(a.startedAt))
    plans.push({ ...plan, diaryUrl: entry.diary.url, records })
  }
  plans.sort((a, b) => a.beneficiary.name.localeCompare(b.beneficiary.name, "it"))
  return plans
}

function describe(record, plan, engine, documentId) {
  const service = plan.services.find(s => s.serviceTypeId === record.serviceTypeId)
  const review = plan.reviews[record.id]
  return {
    ...record,
    carePlanId: plan.carePlanId,
    service,
    review,
    pending: engine.outbox.has(documentId, record.id),
    quantity: quantityOf(record, service),
    day: romeDate(new Date(record.startedAt)),
  }
}

/** The record's quantity in its service's unit, as the server computes it. */
export function quantityOf(record, service) {
  if (record.missed) return 0
  switch (service?.unit) {
    case "hour":
      return record.endedAt ? Math.max(0, (Date.parse(record.endedAt) - Date.parse(record.startedAt)) / 3_600_000) : 0
    case "km":
      return record.km ?? 0
    default:
      return 1
  }
}

/** A record the operator may still change: not validated and not locked in a statement. */
export function editable(record) {
  return record.review?.status !== "validated"
}

/** A record the reviewer sent back: rejected or with a question. */
export function sentBack(record) {
  return !record.pending && (record.review?.status === "rejected" || record.review?.status === "clarification_requested")
}

/**
 * Use of each planned service in the period holding `date` (its ISO week or month, by the
 * allowance), counting the operator's own records that were not rejected.
 */
export function usage(plan, date) {
  return plan.services.map(service => {
    const period = service.period === "month" ? month(date) : isoWeek(date)
    const used = plan.records
      .filter(r => r.serviceTypeId === service.serviceTypeId && r.review?.status !== "rejected")
      .filter(r => (service.period === "month" ? month(r.day) : isoWeek(r.day)) === period)
      .reduce((sum, r) => sum + r.quantity, 0)
    return { service, used, period }
  })
}

/** The visit in progress (started, not stopped) on any plan, if any. */
export function openVisit(plans) {
  for (const plan of plans) {
    const record = plan.records.find(r => !r.endedAt && !r.missed)
    if (record) return { plan, record }
  }
  return null
}

/** A record as the document fields it holds. */
export function recordFields(record) {
  return {
    service_type_id: record.serviceTypeId,
    started_at: record.startedAt,
    ended_at: record.endedAt,
    km: record.km,
    origin: record.origin,
    destination: record.destination,
    notes: record.notes,
    missed: record.missed,
    missed_reason: record.missedReason,
    recorded_at: record.recordedAt,
  }
}

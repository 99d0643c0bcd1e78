// Reading and writing the plan and diary documents by the contract in docs/sync.md: ids, codes
// and timestamps are scalar strings, `notes` is collaborative Text, writers change only the keys
// whose value differs and never replace a record (fields a newer app wrote survive).

import { ImmutableString, updateText } from "@automerge/automerge/slim"

const SCALARS = ["service_type_id", "started_at", "ended_at", "origin", "destination", "missed_reason", "recorded_at"]
const NUMBERS = ["km", "quantity"]

/** A document string (Text, scalar or absent) as a JS string or undefined. */
export function str(value) {
  return value === undefined || value === null ? undefined : String(value)
}

function num(value) {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined
}

/** The plan document as plain data. */
export function readPlan(doc) {
  const beneficiary = doc.beneficiary ?? {}
  const services = Object.entries(doc.planned_services ?? {}).map(([id, s]) => ({
    id,
    serviceTypeId: str(s.service_type_id),
    code: str(s.code),
    name: str(s.name),
    unit: str(s.unit),
    allowance: num(s.allowance),
    period: str(s.allowance_period),
    validFrom: str(s.valid_from),
    validTo: str(s.valid_to),
  }))
  const reviews = {}
  for (const [id, r] of Object.entries(doc.reviews ?? {})) {
    reviews[id] = {
      status: str(r.status),
      reasonCode: str(r.reason_code),
      note: str(r.note),
      reviewedAt: str(r.reviewed_at),
    }
  }
  return {
    carePlanId: str(doc.care_plan_id),
    beneficiary: {
      name: str(beneficiary.display_name) ?? "",
      address: str(beneficiary.address),
      phone: str(beneficiary.phone),
      accessNotes: str(beneficiary.access_notes),
    },
    validFrom: str(doc.valid_from),
    validTo: str(doc.valid_to),
    status: str(doc.status),
    services,
    reviews,
  }
}

/** The records of a diary (tombstones left out), as plain data. */
export function readRecords(doc) {
  const out = []
  for (const [id, r] of Object.entries(doc.records ?? {})) {
    if (r.deleted === true) continue
    out.push({
      id,
      serviceTypeId: str(r.service_type_id),
      startedAt: str(r.started_at),
      endedAt: str(r.ended_at),
      km: num(r.km),
      origin: str(r.origin),
      destination: str(r.destination),
      notes: str(r.notes) ?? "",
      missed: r.missed === true,
      missedReason: str(r.missed_reason),
      recordedAt: str(r.recorded_at),
    })
  }
  return out
}

/**
 * The change that makes `records[id]` hold `fields` (snake_case keys of docs/sync.md; absent
 * or undefined removes an optional field). Only differing keys are written.
 */
export function recordChange(id, fields) {
  return doc => {
    let record = doc.records[id]
    if (!record) {
      // Notes is created with the record, so every device edits the same Text object.
      doc.records[id] = { notes: "" }
      record = doc.records[id]
    }
    for (const key of SCALARS) {
      const value = fields[key]
      if (value === undefined) {
        if (record[key] !== undefined) delete record[key]
      } else if (str(record[key]) !== value) {
        record[key] = new ImmutableString(value)
      }
    }
    for (const key of NUMBERS) {
      const value = fields[key]
      if (value === undefined) {
        if (record[key] !== undefined) delete record[key]
      } else if (record[key] !== value) {
        record[key] = value
      }
    }
    const missed = fields.missed === true
    if ((record.missed === true) !== missed) record.missed = missed
    const notes = fields.notes ?? ""
    if (typeof record.notes !== "string") record.notes = notes
    else if (record.notes !== notes) updateText(doc, ["records", id, "notes"], notes)
  }
}

/** The change that deletes a record (a tombstone: the record stays, marked). */
export function tombstoneChange(id, at) {
  return doc => {
    const record = doc.records[id]
    if (!record || record.deleted === true) return
    record.deleted = true
    if (record.deleted_at === undefined) record.deleted_at = new ImmutableString(at)
  }
}

// What this device wrote that the server has not confirmed yet, per document and record. Kept
// in localStorage (written before the change reaches IndexedDB), so the count survives a
// reload; cleared for a document when the server reports heads equal to ours.

const KEY = "taccuino.outbox"

export class Outbox extends EventTarget {
  constructor() {
    super()
    try {
      this.entries = JSON.parse(localStorage.getItem(KEY) ?? "{}")
    } catch {
      this.entries = {}
    }
  }

  save() {
    localStorage.setItem(KEY, JSON.stringify(this.entries))
    this.dispatchEvent(new Event("change"))
  }

  add(documentId, recordId) {
    const records = (this.entries[documentId] ??= [])
    if (!records.includes(recordId)) records.push(recordId)
    this.save()
  }

  clear(documentId) {
    if (!this.entries[documentId]) return
    delete this.entries[documentId]
    this.save()
  }

  /** Whether a record has changes the server has not confirmed. */
  has(documentId, recordId) {
    return this.entries[documentId]?.includes(recordId) ?? false
  }

  count() {
    return Object.values(this.entries).reduce((n, records) => n + records.length, 0)
  }
}

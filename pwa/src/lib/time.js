// Dates and times as the Italian users read them: Europe/Rome civil time, whatever the device's
// own zone. Plans and allowances count in ISO weeks and calendar months of that zone.

export const ZONE = "Europe/Rome"

const partsFormat = new Intl.DateTimeFormat("en-CA", {
  timeZone: ZONE,
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
})

function parts(instant) {
  const out = {}
  for (const { type, value } of partsFormat.formatToParts(instant)) out[type] = value
  return out
}

/** `YYYY-MM-DD` of an instant in Rome. */
export function romeDate(instant) {
  const p = parts(instant)
  return `${p.year}-${p.month}-${p.day}`
}

/** `HH:MM` of an instant in Rome. */
export function romeTime(instant) {
  const p = parts(instant)
  return `${p.hour}:${p.minute}`
}

/** Offset of Rome from UTC at `instant`, in milliseconds. */
function offsetAt(instant) {
  const p = parts(instant)
  const asUtc = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second)
  return asUtc - Math.floor(instant.getTime() / 1000) * 1000
}

/**
 * The instant of Rome's wall time `date` (`YYYY-MM-DD`) `time` (`HH:MM`). In the autumn hour
 * that happens twice this picks the first; in the spring gap, the hour after.
 */
export function fromRome(date, time) {
  const [y, m, d] = date.split("-").map(Number)
  const [hh, mm] = time.split(":").map(Number)
  const wall = Date.UTC(y, m - 1, d, hh, mm)
  let guess = new Date(wall - offsetAt(new Date(wall)))
  guess = new Date(wall - offsetAt(guess))
  return guess
}

/** Adds `days` to a `YYYY-MM-DD` date. */
export function addDays(date, days) {
  const [y, m, d] = date.split("-").map(Number)
  const t = new Date(Date.UTC(y, m - 1, d + days))
  return t.toISOString().slice(0, 10)
}

/** Day of the week of a date, Monday = 1 ... Sunday = 7. */
export function isoWeekday(date) {
  const [y, m, d] = date.split("-").map(Number)
  return new Date(Date.UTC(y, m - 1, d)).getUTCDay() || 7
}

/** The Monday of a date's ISO week. */
export function weekStart(date) {
  return addDays(date, 1 - isoWeekday(date))
}

/** ISO week label of a date, as the server names periods: `2026-W49`. */
export function isoWeek(date) {
  const thursday = addDays(date, 4 - isoWeekday(date))
  const year = Number(thursday.slice(0, 4))
  const jan1 = Date.UTC(year, 0, 1)
  const [y, m, d] = thursday.split("-").map(Number)
  const week = Math.floor((Date.UTC(y, m - 1, d) - jan1) / 86_400_000 / 7) + 1
  return `${year}-W${String(week).padStart(2, "0")}`
}

/** Month label of a date: `2026-12`. */
export function month(date) {
  return date.slice(0, 7)
}

/** Minutes between two instants, rounded down. */
export function minutesBetween(start, end) {
  return Math.floor((end.getTime() - start.getTime()) / 60_000)
}

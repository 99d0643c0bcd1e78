// The UI strings. Every text the user reads comes from here; a second language is one more
// module with the same shape, picked below.
import { it } from "./it.js"

const languages = { it }

/** The strings of the user's language (Italian unless another is available and preferred). */
export const t = languages[(navigator.language ?? "it").slice(0, 2)] ?? it

/** Numbers the Italian way: `1,5`. */
export function number(value, digits = 2) {
  return new Intl.NumberFormat(t.locale, { maximumFractionDigits: digits }).format(value)
}

const dayFormat = () => new Intl.DateTimeFormat(t.locale, { timeZone: "Europe/Rome", weekday: "long", day: "numeric", month: "long" })
const shortFormat = () => new Intl.DateTimeFormat(t.locale, { timeZone: "Europe/Rome", weekday: "short", day: "numeric", month: "short" })
const dateTimeFormat = () => new Intl.DateTimeFormat(t.locale, { timeZone: "Europe/Rome", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" })

/** `venerdì 4 dicembre` for a `YYYY-MM-DD` date. */
export function longDay(date) {
  return dayFormat().format(new Date(`${date}T12:00:00Z`))
}

/** `ven 4 dic` for a `YYYY-MM-DD` date. */
export function shortDay(date) {
  return shortFormat().format(new Date(`${date}T12:00:00Z`))
}

/** `4 dic, 15:30` for an instant. */
export function dateTime(instant) {
  return dateTimeFormat().format(new Date(instant))
}

const fullFormat = () => new Intl.DateTimeFormat(t.locale, { timeZone: "Europe/Rome", day: "numeric", month: "short", year: "numeric" })
const monthFormat = () => new Intl.DateTimeFormat(t.locale, { timeZone: "Europe/Rome", month: "long", year: "numeric" })

/** `25 feb 2026` for a `YYYY-MM-DD` date. */
export function fullDay(date) {
  return fullFormat().format(new Date(`${date}T12:00:00Z`))
}

/** `novembre 2026` for a `YYYY-MM` month. */
export function monthName(month) {
  return monthFormat().format(new Date(`${month}-15T12:00:00Z`))
}

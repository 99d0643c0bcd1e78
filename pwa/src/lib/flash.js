// A one-line confirmation shown after an action ("Salvata sul telefono"), cleared on the next.
import { useEffect, useState } from "preact/hooks"

let message = null
const listeners = new Set()

export function flash(text) {
  message = text
  for (const listener of listeners) listener(message)
}

/** The current message; it disappears after a few seconds. */
export function useFlash() {
  const [text, setText] = useState(message)
  useEffect(() => {
    listeners.add(setText)
    return () => listeners.delete(setText)
  }, [])
  useEffect(() => {
    if (!text) return
    const timer = setTimeout(() => flash(null), 4000)
    return () => clearTimeout(timer)
  }, [text])
  return text
}

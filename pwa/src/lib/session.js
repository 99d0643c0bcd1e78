// The signed-in user's session, kept in localStorage so the app opens offline. It holds the
// tokens, who the user is, this device's sync identity and the list of documents to sync;
// never a record (those live in the automerge documents in IndexedDB).

const KEY = "taccuino.session"

/** The stored session, or null. */
export function loadSession() {
  try {
    const raw = localStorage.getItem(KEY)
    return raw ? JSON.parse(raw) : null
  } catch {
    return null
  }
}

/** Stores `session` (the whole object) and returns it. */
export function saveSession(session) {
  localStorage.setItem(KEY, JSON.stringify(session))
  return session
}

/** Merges `changes` into the stored session. */
export function updateSession(changes) {
  const current = loadSession()
  if (!current) return null
  return saveSession({ ...current, ...changes })
}

/** Forgets everything this app stored in localStorage. */
export function clearLocalState() {
  for (const key of Object.keys(localStorage)) {
    if (key.startsWith("taccuino.")) localStorage.removeItem(key)
  }
}

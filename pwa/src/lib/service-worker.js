// Registers the service worker that lets the app start with no network (src/sw.js), asks the
// browser to keep our storage (evicting IndexedDB would lose records not yet synced), and tells
// the app when a new release has taken over, so it can offer a reload.
import { useEffect, useState } from "preact/hooks"

const UPDATED = "taccuino:updated"
const CHECK_EVERY_MS = 3_600_000

export function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return
  // The first install also takes control of the page; only a replacement is an update.
  const hadController = Boolean(navigator.serviceWorker.controller)
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    if (hadController) window.dispatchEvent(new Event(UPDATED))
  })
  navigator.serviceWorker
    .register("/sw.js", { scope: "/" })
    .then(registration => setInterval(() => registration.update().catch(() => {}), CHECK_EVERY_MS))
    .catch(() => {
      // no service worker (private mode, an old browser): the app still works while online
    })
  if (navigator.storage?.persist) {
    navigator.storage.persisted().then(persisted => persisted || navigator.storage.persist())
  }
}

/** Whether a new release is installed and waits for a reload. */
export function useUpdateReady() {
  const [ready, setReady] = useState(false)
  useEffect(() => {
    const onUpdate = () => setReady(true)
    window.addEventListener(UPDATED, onUpdate)
    return () => window.removeEventListener(UPDATED, onUpdate)
  }, [])
  return ready
}

// Registers the service worker that lets the app start with no network (src/sw.js), and asks
// the browser to keep our storage: evicting IndexedDB would lose records not yet synced.

export function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {
    // no service worker (private mode, an old browser): the app still works while online
  })
  if (navigator.storage?.persist) {
    navigator.storage.persisted().then(persisted => persisted || navigator.storage.persist())
  }
}

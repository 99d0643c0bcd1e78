// The service worker: the app shell and every versioned asset in one cache per release, so the
// app starts with no network, and a new release replaces the old one whole.
// The build (build/release.js) fills in VERSION and PRECACHE; this file is served as /sw.js.

const VERSION = "__VERSION__"
const PRECACHE = __PRECACHE__
const CACHE = `taccuino-${VERSION}`
const SHELL = "/"

self.addEventListener("install", event => {
  event.waitUntil(
    caches
      .open(CACHE)
      // Hashed assets are immutable: the HTTP cache of the first load serves them. The rest
      // (the shell, the manifest, icons) is revalidated so a release never mixes versions.
      .then(cache => cache.addAll(PRECACHE.map(url => (url.startsWith("/assets/") ? url : new Request(url, { cache: "no-cache" })))))
      .then(() => self.skipWaiting()),
  )
})

self.addEventListener("activate", event => {
  event.waitUntil(
    caches
      .keys()
      .then(keys => Promise.all(keys.filter(k => k.startsWith("taccuino-") && k !== CACHE).map(k => caches.delete(k))))
      .then(() => self.clients.claim()),
  )
})

self.addEventListener("fetch", event => {
  const request = event.request
  if (request.method !== "GET") return
  const url = new URL(request.url)
  // The API and the sync socket are never cached: answers carry personal data.
  if (url.origin !== location.origin || url.pathname.startsWith("/api/") || url.pathname.startsWith("/docs")) return
  if (request.mode === "navigate") {
    if (url.pathname === "/" || url.pathname.startsWith("/app")) {
      event.respondWith(caches.match(SHELL, { cacheName: CACHE }).then(hit => hit ?? fetch(request)))
    }
    return
  }
  event.respondWith(caches.match(url.pathname, { cacheName: CACHE }).then(hit => hit ?? fetch(request)))
})

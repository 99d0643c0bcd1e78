// Client-side routes under /app/ (the server answers every /app/ path with the app shell, and so
// does the service worker offline), so links in emails open the right screen.
import { useEffect, useState } from "preact/hooks"

const EVENT = "taccuino:navigate"

function current() {
  return { path: location.pathname, params: new URLSearchParams(location.search) }
}

export function navigate(to, { replace = false } = {}) {
  if (to === location.pathname + location.search) return
  if (replace) history.replaceState(null, "", to)
  else history.pushState(null, "", to)
  window.dispatchEvent(new Event(EVENT))
  window.scrollTo(0, 0)
}

/** The current route; re-renders on navigation and on the back button. */
export function useRoute() {
  const [route, setRoute] = useState(current)
  useEffect(() => {
    const update = () => setRoute(current())
    window.addEventListener("popstate", update)
    window.addEventListener(EVENT, update)
    return () => {
      window.removeEventListener("popstate", update)
      window.removeEventListener(EVENT, update)
    }
  }, [])
  return route
}

/** Click handler of in-app links: navigate without reloading. */
export function link(event) {
  if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return
  event.preventDefault()
  navigate(event.currentTarget.getAttribute("href"))
}

// The app: who is signed in, which screens their role has, and the sync engine of a field
// device. Operators (and coordinators) work from the synced documents, offline included; the
// municipality's roles work online over the REST API.

import { useEffect, useState } from "preact/hooks"
import { html } from "./lib/html.js"
import { t } from "./i18n/index.js"
import { api, login, logout, storeTokens } from "./lib/api.js"
import { clearLocalState, loadSession, saveSession } from "./lib/session.js"
import { DATABASE, SyncEngine, fetchDocuments } from "./sync/engine.js"
import { link, navigate, useRoute } from "./lib/router.js"
import { Login } from "./views/login.js"
import { Today } from "./views/today.js"
import { Week } from "./views/week.js"
import { Records } from "./views/records.js"
import { RecordForm } from "./views/record-form.js"
import { Account } from "./views/account.js"
import { ReviewQueue } from "./views/review-queue.js"
import { PlanList, PlanDetail } from "./views/plans.js"
import { StatementView } from "./views/statement.js"
import { SyncBar } from "./views/sync-bar.js"
import { NavBar } from "./views/nav.js"
import { useUpdateReady } from "./lib/service-worker.js"

/** Roles whose work is on the synced documents (DESIGN.md §5). */
const FIELD_ROLES = new Set(["field_operator"])

let engine = null
/** The ticket a field device took while signing in, for its first connection. */
let signInTicket = null

function startEngine() {
  engine = new SyncEngine({ firstTicket: signInTicket })
  signInTicket = null
  void engine.start()
  return engine
}

function deviceName() {
  const ua = navigator.userAgent
  const platform = /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS" : /Windows/.test(ua) ? "Windows" : /Mac/.test(ua) ? "Mac" : "Linux"
  return `Taccuino · ${platform}`
}

/**
 * Signs in. A field device also registers (its first ticket) and lists its documents now, while
 * it is online: from then on it opens with no network.
 */
async function signIn(email, password) {
  const { tokens, me } = await login(email, password)
  const previous = loadSession()
  if (previous && previous.me?.id !== me.id) await wipe()
  const kept = previous?.me?.id === me.id ? previous : {}
  saveSession({ ...kept, me, deviceName: kept.deviceName ?? deviceName() })
  storeTokens(tokens)
  if (FIELD_ROLES.has(me.role) && !kept.peerId) {
    const ticket = await api("POST", "/sync/tickets", { body: { device_id: null, device_name: deviceName() } })
    const documents = await fetchDocuments()
    saveSession({ ...loadSession(), deviceId: ticket.device_id, peerId: ticket.peer_id, documents })
    signInTicket = ticket
  }
  return loadSession()
}

/** Deletes everything this app keeps on the device: documents, session, outbox. */
export async function wipe() {
  if (engine) await engine.stop()
  engine = null
  await new Promise((resolve, reject) => {
    const request = indexedDB.deleteDatabase(DATABASE)
    request.onsuccess = () => resolve()
    request.onerror = () => reject(request.error)
    // Another tab of the app holds the database open: nothing is deleted, say so.
    request.onblocked = () => reject(new Error("the documents are open in another tab"))
  })
  clearLocalState()
}

export function App() {
  const [session, setSession] = useState(() => loadSession())
  const [, setTick] = useState(0)
  const updateReady = useUpdateReady()
  const routed = useRoute()
  const me = session?.me
  // The root opens the role's first screen.
  const route = me && ["/", "/app", "/app/"].includes(routed.path) ? { ...routed, path: home(me) } : routed
  if (route !== routed) history.replaceState(null, "", route.path)
  const field = me && FIELD_ROLES.has(me.role)

  if (field && session.accessToken !== undefined && !engine) startEngine()

  useEffect(() => {
    if (!engine) return
    const rerender = () => setTick(n => n + 1)
    engine.addEventListener("change", rerender)
    return () => engine?.removeEventListener("change", rerender)
  }, [engine])

  if (!me || route.path === "/app/login") {
    return html`<${Login}
      email=${me?.email}
      onSignIn=${async (email, password) => {
        const next = await signIn(email, password)
        if (engine && engine.status === "signin") engine.connectNow()
        setSession(next)
        navigate(home(next.me))
      }}
    />`
  }

  const actions = {
    async signOut() {
      await logout()
      await wipe()
      setSession(null)
      navigate("/app/login")
    },
    async revokeDevice() {
      await api("POST", `/devices/${session.deviceId}/revoke`)
      await logout()
      await wipe()
      setSession(null)
      navigate("/app/login")
    },
    async wipeRevoked() {
      await wipe()
      setSession(null)
      navigate("/app/login")
    },
  }

  return html`<div class="shell">
    <header class="topbar">
      <a class="brand" href=${home(me)} onClick=${link}>${t.appName}</a>
      ${field && engine ? html`<${SyncBar} engine=${engine} onSignIn=${() => navigate("/app/login")} />` : html`<span class="who">${me.given_name ?? me.email}</span>`}
    </header>
    ${updateReady && html`<div class="update" role="status">
      <span>${t.update.ready}</span>
      <button class="button small" onClick=${() => location.reload()}>${t.update.reload}</button>
    </div>`}
    <main class="content" id="main">${screen(route, me, actions)}</main>
    <${NavBar} role=${field ? "field" : me.role} path=${route.path} />
  </div>`
}

function screen(route, me, actions) {
  const field = FIELD_ROLES.has(me.role)
  const { path, params } = route
  if (path === "/app/account") return html`<${Account} me=${me} engine=${engine} actions=${actions} />`
  if (field) {
    if (path === "/app/today") return html`<${Today} engine=${engine} me=${me} />`
    if (path === "/app/week") return html`<${Week} engine=${engine} me=${me} />`
    if (path === "/app/records") return html`<${Records} engine=${engine} me=${me} filter=${params.get("filter")} />`
    if (path === "/app/records/new")
      return html`<${RecordForm} engine=${engine} me=${me} planId=${params.get("plan")} serviceTypeId=${params.get("service")} />`
    const record = /^\/app\/service-records\/([0-9a-f-]{36})$/.exec(path)
    if (record) return html`<${RecordForm} engine=${engine} me=${me} recordId=${record[1]} />`
  } else {
    if (path === "/app/reviews") return html`<${ReviewQueue} me=${me} params=${params} />`
    const record = /^\/app\/service-records\/([0-9a-f-]{36})$/.exec(path)
    if (record) return html`<${ReviewQueue} me=${me} params=${params} recordId=${record[1]} />`
    if (path === "/app/plans") return html`<${PlanList} me=${me} />`
    const plan = /^\/app\/plans\/([0-9a-f-]{36})$/.exec(path)
    if (plan) return html`<${PlanDetail} me=${me} planId=${plan[1]} />`
    const statement = /^\/app\/statements\/([0-9a-f-]{36})$/.exec(path)
    if (statement) return html`<${StatementView} me=${me} statementId=${statement[1]} />`
  }
  return html`<section class="card"><h1>${t.notFound.title}</h1><p>${t.notFound.body}</p>
    <a class="button" href=${home(me)} onClick=${link}>${t.notFound.home}</a></section>`
}

/** The first screen of a role. */
export function home(me) {
  if (FIELD_ROLES.has(me.role)) return "/app/today"
  if (me.role === "social_worker") return "/app/reviews"
  return "/app/plans"
}


// The stock automerge-repo 2.5.6 client (Repo + WebSocketClientAdapter, no storage) against our
// sync server, driven by the Rust API tests: proves a device needs no custom protocol code.
//
//   MODE=record|read-review|forbidden TACCUINO_API=http://127.0.0.1:PORT/api/v1 \
//   TACCUINO_EMAIL=... TACCUINO_PASSWORD=... [other variables per mode] node sync-diary.mjs
//
// Common: TIMEOUT_MS (default 10000) bounds the whole run, HTTP included.
//   record:      CARE_PLAN_ID, RECORD_ID, SERVICE_TYPE_ID, STARTED_AT; optional ENDED_AT,
//                NOTES (default ""), RECORDED_AT (default now), OPERATOR_ID (picks the diary
//                when the user sees several for the plan, as a coordinator does).
//                Adds the record and waits until the server reports heads equal to ours.
//   read-review: CARE_PLAN_ID, RECORD_ID. Waits until the plan has `reviews[RECORD_ID]`.
//   forbidden:   DOCUMENT_URL (automerge:<id>). Passes when the server answers
//                `doc-unavailable` and repo.find() rejects.
//
// Output: JSON lines on stdout: progress objects ({"event":...}), then exactly one final
// {"ok":true,...} (exit 0) or {"ok":false,"error":"..."} (exit 1). DEBUG=automerge-repo:* logs
// the library's own view to stderr.
import {
  Repo,
  ImmutableString,
  cbor,
  decodeHeads,
  isValidAutomergeUrl,
  parseAutomergeUrl,
} from "@automerge/automerge-repo"
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"

// stdout is our result channel, but the library console.log()s some internal errors
// ("error receiving message", ...): keep them, on stderr, so stdout stays JSON lines.
console.log = (...args) => console.error(...args)

const emit = obj => process.stdout.write(`${JSON.stringify(obj)}\n`)

class Timeout extends Error {}

function env(name, fallback) {
  const value = process.env[name]
  if (value !== undefined && value !== "") return value
  if (fallback !== undefined) return fallback
  throw new Error(`environment variable ${name} is required`)
}

const TIMEOUT_MS = Number(env("TIMEOUT_MS", "10000"))
const deadline = Date.now() + TIMEOUT_MS
const remaining = () => Math.max(0, deadline - Date.now())

let repo // shut down by finish()
// Rejects when the WebSocket closes under us: the stock adapter would silently reconnect 5 s
// later with the same URL (and ticket), which would hide a server-side close.
let connectionLost = new Promise(() => {})

/** Waits for `promise`, but not past the run's deadline nor a lost connection. */
async function within(promise, what) {
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new Timeout(`timed out (TIMEOUT_MS=${TIMEOUT_MS}) waiting for ${what}`)),
      remaining(),
    )
  })
  try {
    return await Promise.race([promise, timeout, connectionLost])
  } finally {
    clearTimeout(timer)
  }
}

async function api(method, path, { token, body } = {}) {
  const url = `${env("TACCUINO_API").replace(/\/+$/, "")}${path}`
  let res
  try {
    res = await fetch(url, {
      method,
      headers: {
        accept: "application/json",
        ...(body !== undefined && { "content-type": "application/json" }),
        ...(token && { authorization: `Bearer ${token}` }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(remaining()),
    })
  } catch (err) {
    // fetch() hides the socket error (ECONNREFUSED, ...) in `cause`.
    throw new Error(`${method} ${path}: ${err.cause?.code ?? err.cause?.message ?? err.message}`)
  }
  const text = await res.text()
  if (!res.ok) {
    let problem = ""
    try {
      const p = JSON.parse(text)
      problem = [p.title, p.detail].filter(Boolean).join(": ")
    } catch {
      // not a problem document; the status says enough
    }
    throw new Error(`${method} ${path}: HTTP ${res.status} ${problem}`.trim())
  }
  return JSON.parse(text)
}

/** Logs in, gets a ticket, and connects a storage-less Repo; resolves once the server's `peer` came. */
async function connect() {
  const session = await api("POST", "/auth/login", {
    body: { email: env("TACCUINO_EMAIL"), password: env("TACCUINO_PASSWORD") },
  })
  const token = session.access_token
  const ticket = await api("POST", "/sync/tickets", {
    token,
    body: { device_id: null, device_name: "node interop" },
  })
  const wsUrl = new URL(ticket.url, env("TACCUINO_API"))
  wsUrl.protocol = wsUrl.protocol === "https:" ? "wss:" : "ws:"

  const adapter = new WebSocketClientAdapter(wsUrl.href)
  const observed = observe(adapter)
  // The peer id must be the ticket's: the server refuses a `join` from any other.
  repo = new Repo({ network: [adapter], peerId: ticket.peer_id, storage: undefined })
  // repo.find() before the server's `peer` would mark the document unavailable at once (no
  // peer to ask), so wait for it. Our listener runs after the Repo's (registered first), so the
  // server is a known peer when this resolves.
  const server = await within(
    new Promise(resolve => adapter.once("peer-candidate", resolve)),
    "the server's `peer` message",
  )
  const storageId = server.peerMetadata?.storageId
  emit({
    event: "connected",
    peer_id: ticket.peer_id,
    server_peer_id: server.peerId,
    server_storage_id: storageId ?? null,
  })
  return { token, adapter, server, storageId, observed }
}

/**
 * Wraps the adapter's socket handlers (still calling the originals) to see what it only logs to
 * `debug`: the server's `error` frames and socket closes. Must run before the Repo connects.
 */
function observe(adapter) {
  const observed = { serverError: undefined }
  let lost
  connectionLost = new Promise((_, reject) => (lost = reject))
  connectionLost.catch(() => {}) // only a failure for whoever is waiting on it
  const { onMessage, onClose } = adapter
  adapter.onMessage = event => {
    try {
      const message = cbor.decode(new Uint8Array(event.data))
      if (message?.type === "error") observed.serverError = message.message
    } catch {
      // the adapter drops undecodable frames too
    }
    onMessage(event)
  }
  adapter.onClose = event => {
    const why = observed.serverError ? `, after the server's error "${observed.serverError}"` : ""
    lost(new Error(`the WebSocket closed (code ${event.code}${event.reason ? ` "${event.reason}"` : ""})${why}`))
    onClose(event)
  }
  return observed
}

async function myDocuments(token, kind) {
  const carePlanId = env("CARE_PLAN_ID")
  const list = await api("GET", "/me/documents", { token })
  const operatorId = process.env.OPERATOR_ID
  const matches = list.items.filter(
    d =>
      d.kind === kind &&
      d.care_plan_id === carePlanId &&
      (!operatorId || kind !== "diary" || d.operator_id === operatorId),
  )
  if (matches.length !== 1) {
    throw new Error(
      `expected one ${kind} of care plan ${carePlanId} in GET /me/documents, found ` +
        `${matches.length} (among ${list.items.length} items${operatorId ? `, OPERATOR_ID ${operatorId}` : ""})`,
    )
  }
  return matches[0]
}

const sameHeads = (a, b) => !!a && !!b && a.length === b.length && a.every(h => b.includes(h))

async function record() {
  const recordId = env("RECORD_ID")
  const fields = {
    service_type_id: new ImmutableString(env("SERVICE_TYPE_ID")),
    started_at: new ImmutableString(env("STARTED_AT")),
    ...(process.env.ENDED_AT && { ended_at: new ImmutableString(process.env.ENDED_AT) }),
    notes: env("NOTES", ""), // a plain JS string becomes the collaborative Text docs/sync.md asks for
    missed: false,
    recorded_at: new ImmutableString(env("RECORDED_AT", new Date().toISOString())),
  }
  const { token, storageId } = await connect()
  if (!storageId) throw new Error("the server's `peer` message has no storageId: cannot tell when it has our changes")
  const diary = await myDocuments(token, "diary")
  const handle = await within(repo.find(diary.url), `repo.find(${diary.url})`)
  const doc = handle.doc()
  // The server creates `records`; a device must never create it (docs/sync.md).
  if (String(doc.kind) !== "diary" || typeof doc.records !== "object") {
    throw new Error(`${diary.url} is not a diary with a records map`)
  }
  handle.change(d => {
    d.records[recordId] = fields
  })
  // The Repo records, per storage id, the heads a peer last reported in its sync messages
  // (handle.getSyncInfo); our server reports heads only after it stored the changes. So: done
  // when the server's reported heads equal ours.
  const acknowledged = new Promise(resolve => {
    const check = () => {
      if (sameHeads(handle.getSyncInfo(storageId)?.lastHeads, handle.heads())) resolve()
    }
    handle.on("remote-heads", check)
    handle.on("change", check)
    check()
  })
  await within(acknowledged, "the server to report heads equal to ours")
  return {
    document_id: handle.documentId,
    url: diary.url,
    record_id: recordId,
    heads: decodeHeads(handle.heads()), // hex, like automerge's ChangeHash
  }
}

async function readReview() {
  const recordId = env("RECORD_ID")
  const { token } = await connect()
  const plan = await myDocuments(token, "plan")
  const handle = await within(repo.find(plan.url), `repo.find(${plan.url})`)
  const review = await within(
    new Promise(resolve => {
      const check = () => {
        const found = handle.doc().reviews?.[recordId]
        if (found) resolve(JSON.parse(JSON.stringify(found))) // plain JSON, no proxies
      }
      handle.on("change", check)
      check()
    }),
    `reviews["${recordId}"] in ${plan.url}`,
  )
  return { document_id: handle.documentId, review }
}

async function forbidden() {
  const url = env("DOCUMENT_URL")
  if (!isValidAutomergeUrl(url)) throw new Error("DOCUMENT_URL is not an automerge: URL")
  const { documentId } = parseAutomergeUrl(url)
  const { adapter, server } = await connect()
  // repo.find() also rejects when the server is merely gone; require the server's answer.
  let serverSaidUnavailable = false
  adapter.on("message", message => {
    if (
      message.type === "doc-unavailable" &&
      message.documentId === documentId &&
      message.senderId === server.peerId
    ) {
      serverSaidUnavailable = true
    }
  })
  try {
    await within(repo.find(url), `repo.find(${url}) to settle`)
  } catch (err) {
    if (err instanceof Timeout || !/is unavailable/.test(err.message)) throw err
    if (!serverSaidUnavailable) throw new Error(`${err.message}, but the server sent no doc-unavailable`)
    return { document_id: documentId, unavailable: true }
  }
  throw new Error(`repo.find(${url}) resolved: the server shared a document the user may not access`)
}

let finishing = false
async function finish(code, result) {
  // The first result wins: an error thrown while shutting down must not print a second one.
  if (finishing) return
  finishing = true
  try {
    // Disconnects the adapter (stops its reconnect timer); flush() is a no-op without storage.
    await repo?.shutdown()
  } catch (err) {
    console.error(`repo.shutdown() failed: ${err?.stack ?? err}`)
  }
  emit(result)
  // A reconnect timer the adapter armed before shutdown could keep Node alive: exit explicitly.
  process.exit(code)
}

// The adapter throws from its socket `error` listener on anything but ECONNREFUSED (e.g. the
// upgrade refused with HTTP 401: "Unexpected server response: 401"), which would kill Node with
// a stack trace and no JSON. Report it as the failure it is.
process.on("uncaughtException", err => finish(1, { ok: false, error: `uncaught: ${err?.message ?? err}` }))
process.on("unhandledRejection", err => finish(1, { ok: false, error: `unhandled: ${err?.message ?? err}` }))

const modes = { record, "read-review": readReview, forbidden }
try {
  const mode = env("MODE")
  if (!modes[mode]) throw new Error(`MODE must be one of ${Object.keys(modes).join(", ")}`)
  if (!(TIMEOUT_MS > 0)) throw new Error("TIMEOUT_MS must be a positive number")
  await finish(0, { ok: true, mode, ...(await modes[mode]()) })
} catch (err) {
  await finish(1, { ok: false, error: err?.message ?? String(err) })
}

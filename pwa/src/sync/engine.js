// The device's sync engine: the stock automerge-repo Repo with IndexedDB storage, connected to
// the server's sync endpoint through the ticket flow (docs/sync.md "Connecting").
//
// The stock WebSocket adapter reconnects with the URL it was built with, and our tickets are
// single-use, so the engine owns reconnection: each attempt fetches a fresh ticket and adds a new
// adapter; a closed socket removes its adapter and schedules the next attempt (backoff, at once
// on the `online` event, on the retry button). The adapter's own retry is pushed out of the way.

import { Repo, cbor } from "@automerge/automerge-repo/slim"
import { IndexedDBStorageAdapter } from "@automerge/automerge-repo-storage-indexeddb"
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"
import { ApiError, NetworkError, SignInRequired, api, apiAll } from "../lib/api.js"
import { loadSession, updateSession } from "../lib/session.js"
import { Outbox } from "./outbox.js"

/** The IndexedDB database of the documents (the adapter's default name, kept explicit). */
export const DATABASE = "taccuino-documents"

const BACKOFF_MS = [1_000, 2_000, 5_000, 10_000, 30_000, 60_000]
/** Connected, changes unconfirmed, and no word from the server for this long: sync again. */
const UNCONFIRMED_MS = 10_000
/** The adapter retries by itself every so often; ours come first, so push its retry far away. */
const ADAPTER_RETRY_MS = 24 * 3_600_000

/**
 * The sync state the UI shows: `status` is `offline` (no network), `connecting`, `online`,
 * `error` (with `error`), `signin` (the session needs a new sign-in) or `revoked`.
 */
export class SyncEngine extends EventTarget {
  /** `firstTicket`: the ticket taken at sign-in, used for the first connection if still valid. */
  constructor({ firstTicket = null } = {}) {
    super()
    this.firstTicket = firstTicket
    const session = loadSession()
    this.outbox = new Outbox()
    this.storage = new IndexedDBStorageAdapter(DATABASE)
    this.repo = new Repo({
      storage: this.storage,
      network: [],
      peerId: session.peerId,
      // Save every change at once: a throttled save loses the last record when the page closes.
      saveDebounceRate: 0,
    })
    this.handles = new Map() // url -> DocHandle
    /** Every document stored on this device is open (those new to it arrive later, by sync). */
    this.opened = false
    this.documents = session.documents ?? []
    this.serverStorageId = session.serverStorageId
    this.status = navigator.onLine ? "connecting" : "offline"
    this.error = null
    this.lastSyncAt = session.lastSyncAt ?? null
    this.adapter = null
    this.attempt = 0
    this.timer = null
    this.stopped = false
    this.onOnline = () => this.connectNow()
    this.onOffline = () => this.goOffline()
    window.addEventListener("online", this.onOnline)
    window.addEventListener("offline", this.onOffline)
    this.outbox.addEventListener("change", () => this.emit())
    this.lastProgressAt = 0
    // A lost acknowledgement would leave records "waiting" forever on a live connection; a new
    // connection starts a new sync round, which reports the server's heads again.
    this.watchdog = setInterval(() => {
      if (this.status === "online" && this.pending > 0 && Date.now() - this.lastProgressAt > UNCONFIRMED_MS) {
        this.lastProgressAt = Date.now()
        this.dropAdapter()
        this.connectNow()
      }
    }, UNCONFIRMED_MS / 2)
  }

  /** Opens the known documents from local storage, then connects when there is a network. */
  async start() {
    // Lists show once every stored document is open, all at once: a card appearing above
    // another would move the button under the operator's finger.
    await Promise.all(this.documents.map(d => this.open(d)))
    this.opened = true
    this.emit()
    if (navigator.onLine) this.connectNow()
  }

  /**
   * How many plans have a document that has not reached this device yet: listed by the server
   * (a plan just assigned) but not synced before the network went. It arrives by sync.
   */
  get arriving() {
    const missing = this.documents.filter(d => !this.handles.get(d.url)?.isReady())
    return new Set(missing.map(d => d.care_plan_id)).size
  }

  /** Pending record count over all documents. */
  get pending() {
    return this.outbox.count()
  }

  emit() {
    this.dispatchEvent(new Event("change"))
  }

  setStatus(status, error = null) {
    if (status === "online") this.lastProgressAt = Date.now()
    this.status = status
    this.error = error
    this.emit()
  }

  /** The handle of a document, opened from IndexedDB (or from the server once connected). */
  async open(doc) {
    if (this.handles.has(doc.url)) return this.handles.get(doc.url)
    const handle = await this.repo.find(doc.url, { allowableStates: ["ready", "unavailable"] })
    this.handles.set(doc.url, handle)
    handle.on("change", () => {
      this.checkAcknowledged(handle)
      this.emit()
    })
    handle.on("remote-heads", () => {
      this.lastProgressAt = Date.now()
      this.checkAcknowledged(handle)
    })
    // A document new to this device arrives from the server after find() returned.
    if (!handle.isReady()) {
      handle.whenReady().then(
        () => {
          this.checkAcknowledged(handle)
          this.emit()
        },
        () => {},
      )
    }
    return handle
  }

  /** The ready handle of a document, or undefined while it has not arrived yet. */
  handle(url) {
    const handle = this.handles.get(url)
    return handle?.isReady() ? handle : undefined
  }

  /**
   * The server reported its heads for a document: when they are ours, everything we wrote into
   * it is stored on the server (it only reports heads it has committed).
   */
  checkAcknowledged(handle) {
    if (!this.serverStorageId || !handle.isReady()) return
    const remote = handle.getSyncInfo(this.serverStorageId)?.lastHeads
    if (!remote || !sameHeads(remote, handle.heads())) return
    this.outbox.clear(handle.documentId)
    this.lastSyncAt = new Date().toISOString()
    updateSession({ lastSyncAt: this.lastSyncAt })
    this.emit()
  }

  /** Writes into a document and waits until the change is in IndexedDB. */
  async write(url, recordId, change) {
    const handle = this.handle(url)
    if (!handle) throw new Error(`document ${url} is not loaded`)
    const before = handle.heads()
    handle.change(change)
    if (sameHeads(before, handle.heads())) return false
    this.outbox.add(handle.documentId, recordId)
    this.lastProgressAt = Date.now()
    await this.repo.flush([handle.documentId])
    return true
  }

  /** Connects now (cancelling a scheduled retry). */
  connectNow() {
    this.attempt = 0
    clearTimeout(this.timer)
    this.timer = null
    void this.connect()
  }

  goOffline() {
    clearTimeout(this.timer)
    this.timer = null
    this.dropAdapter()
    this.setStatus("offline")
  }

  dropAdapter() {
    const adapter = this.adapter
    this.adapter = null
    if (adapter) this.repo.networkSubsystem.removeNetworkAdapter(adapter)
  }

  scheduleRetry() {
    if (this.stopped || !navigator.onLine || this.timer) return
    const delay = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)]
    this.attempt += 1
    this.timer = setTimeout(() => {
      this.timer = null
      void this.connect()
    }, delay)
  }

  async connect() {
    if (this.stopped || this.adapter) return
    if (!navigator.onLine) return this.setStatus("offline")
    this.setStatus("connecting")
    let ticket
    const first = this.firstTicket
    this.firstTicket = null
    try {
      // Right after sign-in the document list and a ticket are fresh: no need to ask again.
      if (first && Date.parse(first.expires_at) > Date.now() + 5_000) ticket = first
      else {
        await this.refreshDocuments()
        ticket = await this.ticket()
      }
    } catch (err) {
      if (err instanceof SignInRequired) return this.setStatus("signin")
      if (err instanceof ApiError && err.code === "device-revoked") return this.setStatus("revoked")
      // Unreachable is offline, whatever the phone believes about its network.
      if (err instanceof NetworkError && this.attempt < 3) this.setStatus("offline")
      else this.setStatus("error", err instanceof NetworkError ? "unreachable" : err.message)
      return this.scheduleRetry()
    }
    const url = new URL(ticket.url, location.href)
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:"
    const adapter = new WebSocketClientAdapter(url.href, ADAPTER_RETRY_MS)
    // The adapter only logs the server's `error` frames and closes; we need both. Its handlers
    // are instance fields, read when it connects (later, after the Repo's metadata promise).
    const { onMessage } = adapter
    adapter.onMessage = event => {
      const text = serverError(event.data)
      if (text) this.error = text
      onMessage(event)
    }
    adapter.onClose = () => this.lost(adapter)
    adapter.on("peer-candidate", ({ peerMetadata }) => {
      if (adapter !== this.adapter) return
      this.attempt = 0
      if (peerMetadata?.storageId && peerMetadata.storageId !== this.serverStorageId) {
        this.serverStorageId = peerMetadata.storageId
        updateSession({ serverStorageId: this.serverStorageId })
      }
      this.setStatus("online")
    })
    this.adapter = adapter
    this.repo.networkSubsystem.addNetworkAdapter(adapter)
  }

  /** The socket closed (refused, dropped, or closed by the server after an `error`). */
  lost(adapter) {
    if (adapter !== this.adapter) return
    const error = this.error
    this.dropAdapter()
    if (!navigator.onLine) return this.setStatus("offline")
    // A server `error` is worth showing at once; a dropped socket only once it keeps failing.
    if (error || this.attempt >= 3) this.setStatus("error", error ?? "unreachable")
    else this.setStatus("offline")
    this.scheduleRetry()
  }

  /** A single-use ticket for this device (the first one registers it). */
  async ticket() {
    const session = loadSession()
    const ticket = await api("POST", "/sync/tickets", {
      body: { device_id: session.deviceId ?? null, device_name: session.deviceName ?? null },
    })
    if (ticket.peer_id !== session.peerId) {
      // A Repo cannot change its peer id; only the very first ticket may set it (see app.js).
      throw new Error("peer id changed")
    }
    return ticket
  }

  /** Refreshes the list of documents this user may sync and opens the new ones. */
  async refreshDocuments() {
    const documents = await fetchDocuments()
    this.documents = documents
    updateSession({ documents })
    await Promise.all(documents.map(d => this.open(d)))
  }

  /** Stops syncing and closes the storage (before a wipe). */
  async stop() {
    this.stopped = true
    clearTimeout(this.timer)
    clearInterval(this.watchdog)
    window.removeEventListener("online", this.onOnline)
    window.removeEventListener("offline", this.onOffline)
    this.dropAdapter()
    await this.repo.shutdown()
    // An open connection would block deleting the database (a wipe).
    ;(await this.storage.dbPromise).close()
  }
}

/** Every document the signed-in user may sync. */
export function fetchDocuments() {
  return apiAll("/me/documents")
}

function sameHeads(a, b) {
  if (!a || !b || a.length !== b.length) return false
  const set = new Set(a)
  return b.every(h => set.has(h))
}

/** The text of a server `error` frame, if `data` is one. */
function serverError(data) {
  try {
    const message = cbor.decode(new Uint8Array(data))
    return message?.type === "error" ? String(message.message) : null
  } catch {
    return null // the adapter drops undecodable frames too
  }
}

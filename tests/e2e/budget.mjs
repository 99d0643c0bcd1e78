// The PWA budget of issue 7, measured in Debian's headless Chromium in one run:
//   a. the size of every built file, raw and as sent (gzip, brotli);
//   b. a first load (fresh context, sign in, service worker precached): bytes on the wire;
//   c. a second load in the same context: bytes on the wire (the service worker serves the app);
//   d. offline, CPU throttled 4x: navigation start to the agenda on screen, 5 runs;
//   e. offline: a record saved through the form (engine.write with its IndexedDB flush), 5 runs,
//      without and with CPU 4x.
// Bytes are counted on the wire by a counting proxy this script puts in front of the server:
// every request of the page and of the service worker, and the sync WebSocket, headers included.
// The browser only talks to the proxy; `network.offline()` (lib.mjs) cuts it off.
//
//   TACCUINO_URL (the server) TACCUINO_PASSWORD [OPERATOR_EMAIL] [RUNS] node budget.mjs
//
// Prints one JSON object on stdout ({"ok":true,...}); human-readable lines on stderr.
import http from "node:http"
import net from "node:net"

const SERVER = new URL(process.env.TACCUINO_URL ?? "")
const EMAIL = process.env.OPERATOR_EMAIL ?? "operatore@example.org"
const RUNS = Number(process.env.RUNS ?? "5")
process.env.TIMEOUT_MS ??= "600000"

const TARGETS = {
  own_code_kb: 300,
  first_load_mb: 1.5,
  offline_agenda_ms: 1500,
  offline_save_ms: 50,
}

// ---- the counting proxy ------------------------------------------------------------------------

/** Every request seen on the wire: {phase, method, path, status, encoding, kind, up, down}. */
const wire = []
let phase = "setup"
let lastActivity = Date.now()

function kindOf(path, websocket) {
  if (websocket) return "websocket"
  return path.startsWith("/api/") ? "api" : "asset"
}

const proxy = net.createServer(client => {
  const upstream = net.connect(Number(SERVER.port || 80), SERVER.hostname)
  let entry = null // the request being answered (HTTP/1.1, no pipelining: the latest one)
  let upgraded = false
  const count = (e, dir, n) => {
    lastActivity = Date.now()
    if (!e) return
    e[dir] += n
    // A socket opened in one phase may carry bytes in the next: bytes go to the phase they flow in.
    e.by_phase[phase] ??= { up: 0, down: 0 }
    e.by_phase[phase][dir] += n
  }
  client.on("data", chunk => {
    upstream.write(chunk)
    if (!upgraded) {
      const head = chunk.toString("latin1", 0, Math.min(chunk.length, 4096))
      const line = /^([A-Z]+) (\S+) HTTP\/1\.[01]\r\n/.exec(head)
      if (line) {
        const websocket = /\r\nupgrade:\s*websocket/i.test(head)
        entry = {
          phase,
          method: line[1],
          path: line[2],
          kind: kindOf(line[2], websocket),
          accept_encoding: /\r\naccept-encoding:\s*([^\r\n]*)/i.exec(head)?.[1] ?? null,
          service_worker: /\r\nservice-worker:\s*script/i.test(head),
          status: null,
          encoding: null,
          up: 0,
          down: 0,
          by_phase: {},
        }
        wire.push(entry)
      }
    }
    count(entry, "up", chunk.length)
  })
  upstream.on("data", chunk => {
    client.write(chunk)
    if (entry && entry.status === null) {
      const head = chunk.toString("latin1", 0, Math.min(chunk.length, 4096))
      entry.status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0)
      entry.encoding = /\r\ncontent-encoding:\s*([^\r\n]*)/i.exec(head)?.[1] ?? null
      if (entry.status === 101) upgraded = true
    }
    count(entry, "down", chunk.length)
  })
  const close = () => {
    client.destroy()
    upstream.destroy()
  }
  client.on("error", close)
  upstream.on("error", close)
  client.on("close", close)
  upstream.on("close", close)
})
await new Promise(resolve => proxy.listen(0, "127.0.0.1", resolve))
// lib.mjs reads TACCUINO_URL when imported: the browser goes through the proxy.
process.env.TACCUINO_URL = `http://127.0.0.1:${proxy.address().port}`
const { BASE, appCached, phone, run, signIn, syncState, assert } = await import("./lib.mjs")

/** Waits until nothing has crossed the proxy for `ms` (at most `maxMs`). */
async function quiet(ms = 1500, maxMs = 20_000) {
  const deadline = Date.now() + maxMs
  while (Date.now() - lastActivity < ms && Date.now() < deadline) await sleep(100)
}
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

/** Bytes that flowed during `name`, per kind, and the requests made during it. */
function phaseReport(name) {
  const totals = { asset: { up: 0, down: 0, requests: 0 }, api: { up: 0, down: 0, requests: 0 }, websocket: { up: 0, down: 0, requests: 0 } }
  const requests = []
  for (const e of wire) {
    const bytes = e.by_phase[name]
    if (!bytes) continue
    totals[e.kind].up += bytes.up
    totals[e.kind].down += bytes.down
    if (e.phase === name) totals[e.kind].requests += 1
    requests.push({
      method: e.method,
      path: e.path,
      status: e.status,
      encoding: e.encoding,
      kind: e.kind,
      opened_in: e.phase,
      down: bytes.down,
      up: bytes.up,
      ...(e.service_worker ? { service_worker_script: true } : {}),
    })
  }
  const down = totals.asset.down + totals.api.down + totals.websocket.down
  const up = totals.asset.up + totals.api.up + totals.websocket.up
  return { down, up, ...totals, requests }
}

// ---- a. sizes of the built files ---------------------------------------------------------------

function get(path, acceptEncoding) {
  return new Promise((resolve, reject) => {
    const req = http.get(new URL(path, SERVER), { headers: { "accept-encoding": acceptEncoding } }, res => {
      let bytes = 0
      res.on("data", c => (bytes += c.length))
      res.on("end", () => resolve({ status: res.statusCode, bytes, encoding: res.headers["content-encoding"] ?? null, cache: res.headers["cache-control"], body: bytes }))
      res.on("error", reject)
    })
    req.on("error", reject)
  })
}

async function assetSizes() {
  const sw = await fetch(new URL("/sw.js", SERVER)).then(r => r.text())
  const precache = JSON.parse(/const PRECACHE = (\[.*?\])/.exec(sw)[1])
  const files = []
  for (const path of [...precache, "/sw.js"]) {
    const raw = await get(path, "identity")
    const gzip = await get(path, "gzip")
    const br = await get(path, "br")
    assert(raw.status === 200, `${path}: ${raw.status}`)
    const group = path.endsWith(".wasm") ? "wasm" : path.startsWith("/icons/") ? "icons" : "own"
    files.push({ path, group, raw: raw.bytes, gzip: gzip.bytes, gzip_encoded: gzip.encoding === "gzip", br: br.bytes, br_encoded: br.encoding === "br", cache_control: raw.cache })
  }
  const sum = (group, key) => files.filter(f => f.group === group).reduce((n, f) => n + f[key], 0)
  const groups = {}
  for (const group of ["own", "wasm", "icons"]) groups[group] = { raw: sum(group, "raw"), gzip: sum(group, "gzip"), br: sum(group, "br") }
  return { files, ...groups }
}

// ---- the browser -------------------------------------------------------------------------------

/** Records, in each new document, when the first `[data-plan]` is on screen (ms from navigation start). */
function agendaProbe() {
  // (runs in the page, before its scripts)
  const mark = () => {
    // The app replaces the boot placeholder once the automerge wasm is ready.
    const app = document.getElementById("app")
    if (window.__appAt === undefined && app && app.firstElementChild && !app.querySelector(".boot")) window.__appAt = performance.now()
    const el = document.querySelector("[data-plan]")
    if (!el || el.getClientRects().length === 0) return false
    window.__agendaAt = performance.now()
    requestAnimationFrame(() => (window.__agendaFrameAt = performance.now()))
    return true
  }
  const observer = new MutationObserver(() => mark() && observer.disconnect())
  observer.observe(document, { childList: true, subtree: true, attributes: true })
}

/** A fixed amount of work in the page, in ms: tells whether the CPU throttling holds. */
const spin = page =>
  page.evaluate(() => {
    let best = Infinity
    for (let run = 0; run < 3; run++) {
      const t0 = performance.now()
      let x = 0
      for (let i = 0; i < 2e7; i++) x = (x + i * 7) % 1000003
      best = Math.min(best, performance.now() - t0 + (x < 0 ? 1 : 0))
    }
    return best
  })

const median = xs => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const round = (x, d = 1) => Math.round(x * 10 ** d) / 10 ** d
const kb = n => round(n / 1024, 1)

const romeDay = daysAgo => new Date(Date.now() - daysAgo * 86_400_000).toLocaleDateString("sv-SE", { timeZone: "Europe/Rome" })
const hhmm = minutes => `${String(Math.floor(minutes / 60)).padStart(2, "0")}:${String(minutes % 60).padStart(2, "0")}`

let saved = 0
/** Records a visit through the form (offline); returns what the app says the save took. */
async function saveOne(page) {
  await page.goto(`${BASE}/app/today`)
  const card = page.locator("[data-plan]").filter({ has: page.getByRole("link", { name: "Registra" }) }).first()
  await card.getByRole("link", { name: "Registra" }).click()
  const service = page.getByLabel("Servizio")
  if ((await service.inputValue()) === "") await service.selectOption({ index: 1 })
  const start = 6 * 60 + saved * 30
  saved += 1
  await page.getByLabel("Data").fill(romeDay(2))
  await page.getByLabel("Inizio").fill(hhmm(start))
  await page.getByLabel("Fine").fill(hhmm(start + 20))
  await page.getByLabel("Note").fill(`Budget ${saved}`)
  await page.evaluate(() => delete document.documentElement.dataset.lastSaveMs)
  await page.getByRole("button", { name: "Salva", exact: true }).click()
  await page.waitForURL(/\/app\/today/)
  await page.waitForFunction(() => document.documentElement.dataset.lastSaveMs !== undefined)
  return Number(await page.evaluate(() => document.documentElement.dataset.lastSaveMs))
}

await run(async browser => {
  const log = (...args) => console.error("[budget]", ...args)
  const result = { targets: TARGETS, browser: browser.version(), runs: RUNS }

  // a. sizes
  const sizes = await assetSizes()
  result.assets = sizes
  for (const f of sizes.files) log(`${f.path.padEnd(36)} raw ${kb(f.raw)} KB  gzip ${kb(f.gzip)} KB  br ${kb(f.br)} KB`)
  log(`own code and styles (html, js, css, sw.js, manifest): raw ${kb(sizes.own.raw)} KB, gzip ${kb(sizes.own.gzip)} KB, br ${kb(sizes.own.br)} KB (target < ${TARGETS.own_code_kb} KB)`)
  log(`automerge wasm: raw ${kb(sizes.wasm.raw)} KB, gzip ${kb(sizes.wasm.gzip)} KB, br ${kb(sizes.wasm.br)} KB`)

  // b. first load
  const { page, context, network } = await phone(browser)
  await page.addInitScript(agendaProbe)
  const cdp = await context.newCDPSession(page)
  phase = "first"
  await signIn(page, EMAIL)
  await syncState(page, "online", 0)
  await appCached(page)
  await page.waitForSelector("[data-plan]")
  await quiet(2000)
  const first = phaseReport("first")
  first.accept_encoding = [...new Set(wire.filter(e => e.phase === "first" && e.kind === "asset").map(e => e.accept_encoding))]
  result.first_load = first
  log(`first load: ${kb(first.down)} KB down (assets ${kb(first.asset.down)} KB in ${first.asset.requests} requests, API ${kb(first.api.down)} KB in ${first.api.requests}, WebSocket ${kb(first.websocket.down)} KB), ${kb(first.up)} KB up; browser sent accept-encoding: ${first.accept_encoding.join(" | ")}`)
  for (const r of first.requests) log(`  ${r.method} ${r.path} ${r.status} ${r.encoding ?? "-"} ${kb(r.down)} KB`)

  // c. second load, same context
  phase = "second"
  await page.goto(`${BASE}/app/today`)
  await page.waitForSelector("[data-plan]")
  await syncState(page, "online", 0)
  // Chromium checks for a new service worker a moment after the navigation: wait for it.
  await quiet(Number(process.env.SECOND_LOAD_QUIET_MS ?? "5000"))
  const second = phaseReport("second")
  second.agenda_ms = round(await page.evaluate(() => window.__agendaAt))
  second.from_service_worker = await page.evaluate(() => performance.getEntriesByType("navigation")[0].workerStart > 0)
  result.second_load = second
  log(`second load: assets ${second.asset.down} B in ${second.asset.requests} requests, API ${kb(second.api.down)} KB in ${second.api.requests}, WebSocket ${kb(second.websocket.down)} KB; agenda at ${second.agenda_ms} ms (online, no throttling)`)
  for (const r of second.requests) log(`  ${r.method} ${r.path} ${r.status} ${r.encoding ?? "-"} ${r.down} B${r.service_worker_script ? " (service worker update check)" : ""}`)

  // d. offline, CPU 4x: navigation start to the agenda on screen
  await network.offline()
  await syncState(page, "offline")
  await quiet(500)
  phase = "offline"
  const spinPlain = await spin(page)
  await cdp.send("Emulation.setCPUThrottlingRate", { rate: 4 })
  const agenda = []
  for (let i = 0; i < RUNS; i++) {
    await page.goto(`${BASE}/app/today`, { waitUntil: "commit" })
    await page.waitForFunction(() => window.__agendaFrameAt !== undefined, null, { timeout: 30_000, polling: 50 })
    const timing = await page.evaluate(() => {
      const nav = performance.getEntriesByType("navigation")[0]
      const wasm = performance.getEntriesByType("resource").find(e => e.name.endsWith(".wasm"))
      return {
        agenda_ms: window.__agendaAt,
        frame_ms: window.__agendaFrameAt,
        response_end_ms: nav.responseEnd,
        dom_content_loaded_ms: nav.domContentLoadedEventEnd,
        wasm_response_end_ms: wasm?.responseEnd ?? null,
        app_rendered_ms: window.__appAt ?? null,
        from_service_worker: nav.workerStart > 0,
      }
    })
    agenda.push(timing)
    log(`offline agenda run ${i + 1}: ${round(timing.agenda_ms)} ms (next frame ${round(timing.frame_ms)} ms; shell from the service worker at ${round(timing.response_end_ms)} ms, DOMContentLoaded ${round(timing.dom_content_loaded_ms)} ms, wasm fetched ${round(timing.wasm_response_end_ms)} ms, app rendered after wasm init ${round(timing.app_rendered_ms)} ms)`)
  }
  const spinThrottled = await spin(page)
  const throttle = round(spinThrottled / spinPlain, 2)
  assert(agenda.every(t => t.from_service_worker), "the service worker served every offline navigation")
  result.offline_agenda = {
    cpu_throttling: 4,
    measured_slowdown: throttle,
    median_ms: round(median(agenda.map(t => t.agenda_ms))),
    median_frame_ms: round(median(agenda.map(t => t.frame_ms))),
    runs: agenda.map(t => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, typeof v === "number" ? round(v) : v]))),
  }
  log(`offline agenda, CPU 4x (measured slowdown ${throttle}x): median ${result.offline_agenda.median_ms} ms (target < ${TARGETS.offline_agenda_ms} ms)`)

  // e. offline saves, CPU 1x then 4x
  await cdp.send("Emulation.setCPUThrottlingRate", { rate: 1 })
  const savePlain = []
  for (let i = 0; i < RUNS; i++) savePlain.push(await saveOne(page))
  await cdp.send("Emulation.setCPUThrottlingRate", { rate: 4 })
  const saveThrottled = []
  for (let i = 0; i < RUNS; i++) saveThrottled.push(await saveOne(page))
  await cdp.send("Emulation.setCPUThrottlingRate", { rate: 1 })
  await syncState(page, "offline", 2 * RUNS)
  result.offline_save = {
    cpu_1x: { median_ms: round(median(savePlain)), runs: savePlain },
    cpu_4x: { median_ms: round(median(saveThrottled)), runs: saveThrottled },
  }
  log(`offline save, CPU 1x: median ${result.offline_save.cpu_1x.median_ms} ms [${savePlain.join(", ")}] (target < ${TARGETS.offline_save_ms} ms)`)
  log(`offline save, CPU 4x: median ${result.offline_save.cpu_4x.median_ms} ms [${saveThrottled.join(", ")}]`)
  // Only the closing frames of the sockets cut by network.offline() may still flow.
  const leaked = phaseReport("offline").requests.filter(r => r.opened_in === "offline")
  assert(leaked.length === 0, `no request reached the network while offline: ${leaked.map(r => r.path).join(", ")}`)

  const own = sizes.own
  result.summary = {
    own_code_gzip_kb: kb(own.gzip),
    own_code_br_kb: kb(own.br),
    wasm_gzip_kb: kb(sizes.wasm.gzip),
    wasm_br_kb: kb(sizes.wasm.br),
    first_load_kb: kb(first.down),
    first_load_assets_kb: kb(first.asset.down),
    first_load_api_kb: kb(first.api.down + first.websocket.down),
    second_load_assets_bytes: second.asset.down,
    second_load_asset_requests: second.requests.filter(r => r.kind === "asset").map(r => `${r.method} ${r.path} ${r.status}`),
    second_load_api_kb: kb(second.api.down + second.websocket.down),
    offline_agenda_median_ms: result.offline_agenda.median_ms,
    offline_save_median_ms: result.offline_save.cpu_1x.median_ms,
    offline_save_cpu4x_median_ms: result.offline_save.cpu_4x.median_ms,
    pass: {
      own_code: own.gzip < TARGETS.own_code_kb * 1024,
      first_load: first.down < TARGETS.first_load_mb * 1024 * 1024,
      second_load: second.requests.filter(r => r.kind === "asset").every(r => r.status === 304 || r.service_worker_script),
      offline_agenda: result.offline_agenda.median_ms < TARGETS.offline_agenda_ms,
      // The issue sets the save budget without throttling; the 4x figure is reported alongside.
      offline_save: result.offline_save.cpu_1x.median_ms < TARGETS.offline_save_ms,
    },
  }
  log("summary", JSON.stringify(result.summary))
  proxy.close()
  return result
})
process.exit(process.exitCode ?? 0)

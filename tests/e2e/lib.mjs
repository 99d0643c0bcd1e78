// Helpers of the browser stories: Debian's Chromium through playwright-core, phones at 360 px,
// a network that really goes away (WebSockets included), screenshots, JSON results.
import { mkdirSync, readFileSync } from "node:fs"
import { chromium } from "playwright-core"

export const BASE = required("TACCUINO_URL")
export const PASSWORD = required("TACCUINO_PASSWORD")
export const SHOTS = process.env.SCREENSHOTS_DIR
const TIMEOUT_MS = Number(process.env.TIMEOUT_MS ?? "60000")

function required(name) {
  const value = process.env[name]
  if (!value) throw new Error(`environment variable ${name} is required`)
  return value
}

// stdout carries our JSON lines only.
console.log = (...args) => console.error(...args)
export const emit = obj => process.stdout.write(`${JSON.stringify(obj)}\n`)

/** Runs a story: prints {"ok":true,...} or {"ok":false,"error"} and exits accordingly. */
export async function run(story) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    // On Linux the browser's own language (date and time fields) comes from the environment.
    env: { ...process.env, LANG: "it_IT.UTF-8", LANGUAGE: "it" },
    args: ["--lang=it-IT", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  })
  const timer = setTimeout(() => {
    emit({ ok: false, error: `timed out after ${TIMEOUT_MS} ms` })
    process.exit(1)
  }, TIMEOUT_MS)
  try {
    const result = await story(browser)
    emit({ ok: true, ...result })
    process.exitCode = 0
  } catch (err) {
    // What each page showed when the story failed, for whoever reads the failure.
    const pages = browser.contexts().flatMap(c => c.pages())
    for (const [i, page] of pages.entries()) {
      await page.screenshot({ path: `${SHOTS ?? "."}/failure-${i + 1}.png` }).catch(() => {})
      console.error(`[failure] page ${i + 1} at ${page.url()}`)
    }
    emit({ ok: false, error: err.stack ?? String(err) })
    process.exitCode = 1
  } finally {
    clearTimeout(timer)
    await browser.close()
  }
}

/**
 * A phone: 360 px wide, touch, Italian, in Rome; durable storage granted (headless Chromium
 * refuses `navigator.storage.persist()` otherwise). `network.offline()` cuts HTTP and the open
 * sync socket and refuses new ones until `network.online()`: Chromium's offline emulation alone
 * leaves an open WebSocket running.
 */
export async function phone(browser, { width = 360, height = 760 } = {}) {
  const context = await browser.newContext({
    viewport: { width, height },
    deviceScaleFactor: 2,
    isMobile: width < 600,
    hasTouch: width < 600,
    locale: "it-IT",
    timezoneId: "Europe/Rome",
  })
  let offline = false
  const sockets = new Set()
  await context.routeWebSocket(/\/api\/v1\/sync/, ws => {
    if (offline) return ws.close({ code: 1006, reason: "offline" })
    const server = ws.connectToServer()
    const pair = { ws, server }
    sockets.add(pair)
    ws.onClose(() => sockets.delete(pair))
  })
  // Waits of 60 s instead of 30: CI runs other stories' servers beside the browser.
  context.setDefaultTimeout(60_000)
  const page = await context.newPage()
  page.on("pageerror", e => console.error(`[page error] ${e.message}`))
  page.on("console", m => m.type() === "error" && console.error(`[console] ${m.text()}`))
  const cdp = await context.newCDPSession(page)
  const { targetInfo } = await cdp.send("Target.getTargetInfo")
  const browserSession = await browser.newBrowserCDPSession()
  await browserSession.send("Browser.grantPermissions", {
    origin: new URL(BASE).origin,
    permissions: ["durableStorage"],
    browserContextId: targetInfo.browserContextId,
  })
  const network = {
    async offline() {
      offline = true
      await context.setOffline(true)
      for (const { ws, server } of sockets) {
        server.close()
        ws.close({ code: 1006, reason: "offline" })
      }
      sockets.clear()
    },
    async online() {
      offline = false
      await context.setOffline(false)
    },
  }
  return { context, page, network }
}

/** Signs in through the login screen and waits for the first screen. */
export async function signIn(page, email) {
  await page.goto(`${BASE}/`)
  await page.getByLabel("Email").fill(email)
  await page.getByLabel("Password").fill(PASSWORD)
  await page.getByRole("button", { name: "Accedi" }).click()
  await page.waitForURL(/\/app\/(today|reviews|plans)/)
}

/** Waits until the sync indicator shows `status` and, if given, `pending` records. */
export async function syncState(page, status, pending) {
  const selector = pending === undefined ? `.sync[data-status="${status}"]` : `.sync[data-status="${status}"][data-pending="${pending}"]`
  await page.waitForSelector(selector, { timeout: 30_000 })
}

/** Waits until the service worker controls the page and has the whole app cached. */
export async function appCached(page) {
  await page.waitForFunction(
    async () => {
      const registration = await navigator.serviceWorker.ready
      if (!registration.active || !navigator.serviceWorker.controller) return false
      const keys = await caches.keys()
      for (const key of keys) {
        const cache = await caches.open(key)
        if (await cache.match("/")) return true
      }
      return false
    },
    null,
    { timeout: 20_000, polling: 200 },
  )
}

/** Saves a screenshot of the viewport as SCREENSHOTS_DIR/<name>.png (when a folder is set). */
export async function shot(page, name) {
  if (!SHOTS) return
  mkdirSync(SHOTS, { recursive: true })
  await page.screenshot({ path: `${SHOTS}/${name}.png` })
}

/** The ids of the records listed on the records screen. */
export async function listedRecords(page) {
  return page.$$eval("[data-record]", els => els.map(e => e.dataset.record))
}

export function assert(condition, message) {
  if (!condition) throw new Error(`assertion failed: ${message}`)
}

/** Records a visit through the form (online or not); returns the new record's id. */
export async function recordVisit(page, planId, { date, start, end, notes }) {
  const before = new Set(await allRecords(page))
  await page.goto(`${BASE}/app/today`)
  await page.locator(`[data-plan="${planId}"]`).getByRole("link", { name: "Registra" }).click()
  await page.waitForURL(url => url.searchParams.get("plan") === planId, { timeout: 5_000 })
  const service = page.getByLabel("Servizio")
  if ((await service.inputValue()) === "") await service.selectOption({ index: 1 })
  await page.getByLabel("Data").fill(date)
  await page.getByLabel("Inizio").fill(start)
  await page.getByLabel("Fine").fill(end)
  if (notes !== undefined) await page.getByLabel("Note").fill(notes)
  await page.getByRole("button", { name: "Salva", exact: true }).click()
  await page.waitForURL(/\/app\/today/)
  const after = await allRecords(page)
  const added = after.filter(id => !before.has(id))
  assert(added.length === 1, `one new record, found ${added.length}`)
  return added[0]
}

/** Every record id on the records screen (navigates there), once every plan has arrived. */
export async function allRecords(page) {
  await page.goto(`${BASE}/app/records`)
  await page.waitForSelector(".records, .empty")
  await page.waitForFunction(() => !document.querySelector("[data-arriving]"))
  return listedRecords(page)
}

/** Opens a record's form. */
export async function openRecord(page, id) {
  await page.goto(`${BASE}/app/service-records/${id}`)
  await page.getByLabel("Note").waitFor()
}

/** Retries `check` until it passes (45 s at most: CI runs many servers at once). */
export async function eventually(check, timeoutMs = 45_000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await check()
    } catch (err) {
      if (Date.now() > deadline) throw err
      await new Promise(resolve => setTimeout(resolve, 250))
    }
  }
}

let axeSource // read once: every screen of every story injects it

/**
 * Checks the page against WCAG 2.1 A and AA (axe-core: contrast, labels, names, landmarks...);
 * throws listing the violations.
 */
export async function accessible(page, screen) {
  // The page's CSP forbids injected scripts; evaluate() runs in the page without one.
  axeSource ??= readFileSync(new URL("./node_modules/axe-core/axe.min.js", import.meta.url), "utf8")
  await page.evaluate(axeSource)
  const result = await page.evaluate(() =>
    globalThis.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } }),
  )
  const violations = result.violations.map(v => `${v.id} (${v.nodes.length}): ${v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", ")}`)
  assert(violations.length === 0, `${screen} meets WCAG 2.1 AA, violations: ${violations.join("; ")}`)
}

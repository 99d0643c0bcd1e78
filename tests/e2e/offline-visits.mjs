// An operator signs in, loses the network, records three visits (one with the timer, across a
// reload; a transport; a missed visit), reloads the app offline and finds them, then gets the
// network back and sees them sent. Run by tests/tests/api/browser.rs, which then asks the server.
//
//   TACCUINO_URL TACCUINO_PASSWORD OPERATOR_EMAIL TRANSPORT_PLAN_ID OTHER_PLAN_ID
//   UNKNOWN_DOCUMENT_URL YESTERDAY (YYYY-MM-DD) [SCREENSHOTS_DIR] node offline-visits.mjs
import { BASE, accessible, appCached, assert, listedRecords, phone, run, shot, signIn, syncState } from "./lib.mjs"

const TRANSPORT_PLAN = process.env.TRANSPORT_PLAN_ID
const OTHER_PLAN = process.env.OTHER_PLAN_ID
const YESTERDAY = process.env.YESTERDAY

await run(async browser => {
  const { page, network } = await phone(browser)
  await page.goto(`${BASE}/`)
  await shot(page, "01-accesso")
  await accessible(page, "login")
  await signIn(page, process.env.OPERATOR_EMAIL)
  await syncState(page, "online", 0)
  await appCached(page)
  await page.waitForSelector(`[data-plan="${TRANSPORT_PLAN}"]`)
  await shot(page, "02-oggi")
  await accessible(page, "today")
  const persisted = await page.evaluate(() => navigator.storage.persisted())
  assert(persisted, "the app asked the browser to keep its storage")

  await network.offline()
  await syncState(page, "offline")

  // 1. A visit with the timer: start at the door...
  const card = page.locator(`[data-plan="${OTHER_PLAN}"]`)
  await card.getByRole("button", { name: "Inizia visita" }).click()
  const choice = card.getByRole("group", { name: "Scegli il servizio" })
  if (await choice.isVisible()) await choice.getByRole("button").first().click()
  await page.waitForSelector(".running")
  // ...the app is closed and opened again (offline): the visit is still running.
  await page.reload()
  await page.waitForSelector(".running")
  await shot(page, "03-visita-in-corso")
  await page.getByRole("button", { name: "Termina visita" }).click()
  await page.waitForURL(/\/app\/service-records\//)
  await page.getByLabel("Note").fill("Visita con il timer")
  await page.getByRole("button", { name: "Salva le modifiche" }).click()
  await page.waitForURL(/\/app\/today/)

  // 2. A transport, typed in afterwards.
  await page.locator(`[data-plan="${TRANSPORT_PLAN}"]`).getByRole("link", { name: "Registra" }).click()
  // The app is closed on the form and opened again, offline: the form is back for that plan.
  await page.reload()
  await page.locator("form .fixed strong").filter({ hasText: /\S/ }).waitFor()
  await page.getByLabel("Servizio").selectOption({ label: "Trasporto sociale" })
  await page.getByLabel("Data").fill(YESTERDAY)
  await page.getByLabel("Inizio").fill("09:00")
  await page.getByLabel("Fine").fill("09:40")
  await page.getByLabel("Partenza").fill("Casa")
  await page.getByLabel("Arrivo").fill("Ospedale di Vizzolo Predabissi")
  // A wrong value first: the form says what is wrong and saves nothing.
  await page.getByLabel("Chilometri").fill("-3")
  await page.getByRole("button", { name: "Salva", exact: true }).click()
  await page.getByText("Chilometri non validi").waitFor()
  await page.getByLabel("Chilometri").fill("12,5")
  await shot(page, "04-trasporto")
  await accessible(page, "record form")
  await page.getByRole("button", { name: "Salva", exact: true }).click()
  await page.waitForURL(/\/app\/today/)
  const saveMs = Number(await page.evaluate(() => document.documentElement.dataset.lastSaveMs))

  // 3. A missed visit, with its reason.
  await page.locator(`[data-plan="${OTHER_PLAN}"]`).getByRole("link", { name: "Registra" }).click()
  const service = page.getByLabel("Servizio")
  if ((await service.inputValue()) === "") await service.selectOption({ index: 1 })
  await page.getByLabel("Visita non effettuata").check()
  await page.getByLabel("Motivo").selectOption({ label: "Beneficiario assente" })
  await page.getByLabel("Data").fill(YESTERDAY)
  await page.getByLabel("Ora prevista").fill("15:00")
  await page.getByRole("button", { name: "Salva", exact: true }).click()
  await page.waitForURL(/\/app\/today/)

  await syncState(page, "offline", 3)
  await page.getByRole("link", { name: "Registrazioni", exact: true }).click()
  await page.getByRole("link", { name: "Da inviare", exact: true }).click()
  const recorded = await listedRecords(page)
  assert(recorded.length === 3, `three records waiting, listed ${recorded.length}`)
  await shot(page, "05-registrazioni-offline")
  await accessible(page, "records")

  // Reload with no network: the service worker serves the app, IndexedDB the records.
  await page.reload()
  await syncState(page, "offline", 3)
  await page.waitForSelector(".records")
  const afterReload = await listedRecords(page)
  assert(afterReload.length === 3 && afterReload.every(id => recorded.includes(id)), "the same three records after the reload")

  await network.online()
  await syncState(page, "online", 0)
  await page.getByRole("link", { name: "Tutte", exact: true }).click()
  for (const id of recorded) {
    await page.locator(`[data-record="${id}"] .badge`).filter({ hasText: /In verifica|Validata|Respinta/ }).waitFor()
  }
  await page.getByRole("link", { name: "Settimana", exact: true }).click()
  await shot(page, "06-settimana")
  await accessible(page, "week")
  await page.getByRole("link", { name: "Profilo", exact: true }).click()
  await shot(page, "09-profilo")
  await accessible(page, "account")

  // A plan assigned just before the network went: the server listed its document, the phone
  // never got it. Offline, the screens show what the phone has and say what is missing,
  // instead of loading for ever.
  await network.offline()
  await syncState(page, "offline", 0)
  const saved = await page.evaluate(url => {
    const raw = localStorage.getItem("taccuino.session")
    const session = JSON.parse(raw)
    const listed = session.documents[0]
    session.documents.push({ ...listed, url, document_id: url.slice("automerge:".length), care_plan_id: crypto.randomUUID() })
    localStorage.setItem("taccuino.session", JSON.stringify(session))
    return raw
  }, process.env.UNKNOWN_DOCUMENT_URL)
  const missing = "1 progetto non ancora scaricato su questo telefono: arriverà con la rete."
  await page.goto(`${BASE}/app/records`)
  await page.getByText(missing).waitFor()
  const withMissing = await listedRecords(page)
  assert(recorded.every(id => withMissing.includes(id)), "the records list shows the phone's records while a plan is missing")
  await page.getByText(missing).scrollIntoViewIfNeeded()
  await shot(page, "13-progetto-mancante")
  await page.getByRole("link", { name: "Oggi", exact: true }).click()
  await page.getByText(missing).waitFor()
  await page.locator(`[data-plan="${TRANSPORT_PLAN}"]`).waitFor()
  await page.evaluate(raw => localStorage.setItem("taccuino.session", raw), saved)
  await page.reload()
  await network.online()
  await syncState(page, "online", 0)
  await page.getByRole("link", { name: "Profilo", exact: true }).click()

  // Signing out wipes the phone, after saying nothing is left to send.
  await page.getByRole("button", { name: "Esci", exact: true }).click()
  await page.getByText("Tutto è stato inviato").waitFor()
  await page.getByRole("button", { name: "Esci e cancella i dati" }).click()
  await page.waitForURL(/\/app\/login/)
  const left = await page.evaluate(async () => ({
    databases: (await indexedDB.databases()).map(d => d.name),
    keys: Object.keys(localStorage).filter(k => k.startsWith("taccuino.")),
  }))
  assert(!left.databases.includes("taccuino-documents") && left.keys.length === 0, `nothing left: ${JSON.stringify(left)}`)
  return { records: recorded, save_ms: saveMs }
})

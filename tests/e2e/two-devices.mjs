// The same operator on two phones: both go offline, both change the same record's notes (and
// one adds a record), both come back online; both end up with both edits and both records.
//
//   TACCUINO_URL TACCUINO_PASSWORD OPERATOR_EMAIL PLAN_ID YESTERDAY node two-devices.mjs
import { BASE, allRecords, assert, eventually, openRecord, phone, recordVisit, run, signIn, syncState } from "./lib.mjs"

const PLAN = process.env.PLAN_ID
const YESTERDAY = process.env.YESTERDAY

await run(async browser => {
  const a = await phone(browser)
  const b = await phone(browser)
  await signIn(a.page, process.env.OPERATOR_EMAIL)
  await signIn(b.page, process.env.OPERATOR_EMAIL)
  await syncState(a.page, "online", 0)
  await syncState(b.page, "online", 0)

  const shared = await recordVisit(a.page, PLAN, { date: YESTERDAY, start: "10:00", end: "11:00", notes: "Spesa fatta" })
  await syncState(a.page, "online", 0)
  // Phone B gets it from the server.
  await b.page.goto(`${BASE}/app/records`)
  await b.page.waitForSelector(`[data-record="${shared}"]`, { timeout: 20_000 })

  await a.network.offline()
  await b.network.offline()
  await syncState(a.page, "offline")
  await syncState(b.page, "offline")

  await openRecord(a.page, shared)
  await a.page.getByLabel("Note").fill("Spesa fatta, farmaci ritirati")
  await a.page.getByRole("button", { name: "Salva le modifiche" }).click()
  await a.page.waitForURL(/\/app\/today/)

  await openRecord(b.page, shared)
  await b.page.getByLabel("Note").fill("Bagno assistito. Spesa fatta")
  await b.page.getByRole("button", { name: "Salva le modifiche" }).click()
  await b.page.waitForURL(/\/app\/today/)
  const added = await recordVisit(b.page, PLAN, { date: YESTERDAY, start: "14:00", end: "15:00", notes: "Passeggiata" })
  await syncState(a.page, "offline", 1)
  await syncState(b.page, "offline", 2)

  await a.network.online()
  await b.network.online()
  await syncState(a.page, "online", 0)
  await syncState(b.page, "online", 0)

  // Text merges character by character: each phone's words survive.
  const merged = "Bagno assistito. Spesa fatta, farmaci ritirati"
  for (const { page } of [a, b]) {
    await eventually(async () => {
      const ids = await allRecords(page)
      assert(ids.includes(shared) && ids.includes(added), "the phone lists both records")
      await openRecord(page, shared)
      const notes = await page.getByLabel("Note").inputValue()
      assert(notes === merged, `merged notes, found ${JSON.stringify(notes)}`)
    })
  }
  // Phone B is lost: it is revoked from itself while phone A has one record not sent yet.
  await a.network.offline()
  await recordVisit(a.page, PLAN, { date: YESTERDAY, start: "17:00", end: "17:30" })
  await a.page.goto(`${BASE}/app/account`)
  await a.page.getByRole("button", { name: "Esci", exact: true }).click()
  await a.page.getByText("1 registrazione non è ancora stata inviata").waitFor()
  await a.page.getByRole("button", { name: "Annulla" }).click()
  await b.page.goto(`${BASE}/app/account`)
  await b.page.getByRole("button", { name: "Revoca questo dispositivo" }).click()
  await b.page.getByRole("button", { name: "Revoca e cancella i dati" }).click()
  await b.page.waitForURL(/\/app\/login/)
  return { shared, added, notes: merged }
})

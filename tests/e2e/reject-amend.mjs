// An operator records a visit; the social worker, on the review screen, rejects it with a
// reason; the operator's phone shows the reason after sync; the operator amends the record and
// it goes back to review.
//
//   TACCUINO_URL TACCUINO_PASSWORD OPERATOR_EMAIL SOCIAL_WORKER_EMAIL PLAN_ID YESTERDAY
//   [SCREENSHOTS_DIR] node reject-amend.mjs
import { BASE, accessible, assert, eventually, openRecord, phone, recordVisit, run, shot, signIn, syncState } from "./lib.mjs"

const PLAN = process.env.PLAN_ID
const YESTERDAY = process.env.YESTERDAY
const REASON = "La visita è durata mezz'ora secondo la famiglia"

await run(async browser => {
  const operator = await phone(browser)
  await signIn(operator.page, process.env.OPERATOR_EMAIL)
  await syncState(operator.page, "online", 0)
  const id = await recordVisit(operator.page, PLAN, { date: YESTERDAY, start: "16:00", end: "17:00", notes: "Igiene personale" })
  await syncState(operator.page, "online", 0)

  // The social worker, at a desk, and on a phone for the screenshot.
  const worker = await phone(browser, { width: 1280, height: 900 })
  await signIn(worker.page, process.env.SOCIAL_WORKER_EMAIL)
  const card = worker.page.locator(`[data-record="${id}"]`)
  await eventually(async () => {
    await worker.page.goto(`${BASE}/app/reviews?care_plan_id=${PLAN}`)
    await card.waitFor({ timeout: 5_000 })
  })
  // The card says who delivered the visit: the demo operator, by name.
  await card.getByText(/^Marco Esposito · ricevuta /).waitFor()
  await shot(worker.page, "07-verifica-desktop")
  await accessible(worker.page, "review queue")
  await card.getByRole("button", { name: "Respingi" }).click()
  await card.getByRole("button", { name: "Respingi" }).click()
  await card.getByText("Indica il motivo e una spiegazione.").waitFor()
  await card.getByLabel("Motivo").selectOption({ label: "Quantità non corrispondente" })
  await card.getByLabel("Spiegazione per l'operatore").fill(REASON)
  await card.getByRole("button", { name: "Respingi" }).click()
  await worker.page.getByText("Prestazione respinta").waitFor()
  // The rest of the plan's queue in one action: what has no blocking finding is validated.
  await worker.page.getByRole("button", { name: "Valida le prestazioni senza anomalie bloccanti" }).click()
  const bulk = await worker.page.getByText(/^Validate \d+, escluse \d+\.$/).textContent()
  await worker.page.goto(`${BASE}/app/plans/${PLAN}`)
  await worker.page.getByRole("table").first().waitFor()
  await shot(worker.page, "11-progetto-desktop")
  await accessible(worker.page, "plan view")

  const small = await phone(browser)
  await signIn(small.page, process.env.SOCIAL_WORKER_EMAIL)
  await small.page.goto(`${BASE}/app/reviews?care_plan_id=${PLAN}&status=rejected`)
  await small.page.locator(`[data-record="${id}"]`).waitFor()
  await shot(small.page, "08-verifica")
  await small.page.goto(`${BASE}/app/plans/${PLAN}`)
  await small.page.getByRole("table").first().waitFor()
  await shot(small.page, "12-progetto")

  // Back on the operator's phone: the outcome arrives with the plan document.
  const page = operator.page
  await eventually(async () => {
    await page.goto(`${BASE}/app/records?filter=sent-back`)
    await page.locator(`[data-record="${id}"]`).getByText(REASON).waitFor({ timeout: 5_000 })
  })
  await openRecord(page, id)
  await page.getByText(REASON).waitFor()
  await page.getByText("Respinta", { exact: true }).first().waitFor()
  await shot(page, "10-respinta")
  await accessible(page, "rejected record")
  await page.getByLabel("Fine").fill("16:30")
  await page.getByRole("button", { name: "Salva le modifiche" }).click()
  await page.waitForURL(/\/app\/today/)
  await syncState(page, "online", 0)
  await eventually(async () => {
    await page.goto(`${BASE}/app/records`)
    await page.locator(`[data-record="${id}"] .badge`).getByText("Modificata").waitFor({ timeout: 5_000 })
  })
  const sentBack = await page.locator(`[data-record="${id}"]`).count()
  assert(sentBack === 1, "the amended record is listed once")
  return { record: id, reason: REASON, bulk }
})

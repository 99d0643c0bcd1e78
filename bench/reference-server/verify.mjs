// Checks a reference server's storage directory after a benchmark run: every document in a
// sync-load manifest (--manifest) must load from disk, through a fresh Repo on
// NodeFSStorageAdapter (no network), with its heads and its number of records.
//   node verify.mjs STORAGE_DIR MANIFEST
// Run it after the server has stopped (SIGTERM flushes). Exits 1 if any document is missing
// or incomplete.
import fs from "node:fs"
import { Repo, decodeHeads } from "@automerge/automerge-repo"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"

const [dir, manifestPath] = process.argv.slice(2)
if (!dir || !manifestPath) {
  console.error("usage: node verify.mjs STORAGE_DIR MANIFEST")
  process.exit(2)
}
const entries = fs
  .readFileSync(manifestPath, "utf8")
  .split("\n")
  .filter(l => l.trim())
  .map(l => JSON.parse(l))

const repo = new Repo({ storage: new NodeFSStorageAdapter(dir), network: [] })
let ok = 0
const problems = []
for (const e of entries) {
  try {
    const handle = await repo.find(e.url, { allowableStates: ["ready", "unavailable"] })
    const doc = handle.doc()
    if (!doc) {
      problems.push(`${e.document_id}: not in storage`)
      continue
    }
    const records = Object.keys(doc.records ?? {}).length
    const heads = new Set(decodeHeads(handle.heads()))
    const missing = e.heads.filter(h => !heads.has(h))
    if (records !== e.records || missing.length > 0) {
      problems.push(`${e.document_id}: ${records}/${e.records} records, ${missing.length} heads missing`)
      continue
    }
    ok++
  } catch (err) {
    problems.push(`${e.document_id}: ${err.message}`)
  }
}
const files = countFiles(dir)
console.log(JSON.stringify({ documents: entries.length, verified: ok, problems: problems.length, files }))
for (const p of problems.slice(0, 10)) console.log(`  ${p}`)
// No repo.shutdown(): it flushes, and flush() throws on a handle that never became ready.
process.exit(problems.length === 0 && entries.length > 0 ? 0 : 1)

function countFiles(d) {
  let n = 0
  for (const ent of fs.readdirSync(d, { withFileTypes: true })) {
    n += ent.isDirectory() ? countFiles(`${d}/${ent.name}`) : 1
  }
  return n
}

// The stock automerge-repo 2.5.6 sync server, the baseline of the sync benchmark
// (BENCHMARKS.md): a Repo with NodeWSServerAdapter on a `ws` WebSocketServer and
// NodeFSStorageAdapter. Its share policy announces nothing (documents are served only to peers
// that ask for them by id), as issue 5 asks of the comparison.
//
//   node server.mjs [--port PORT] [--dir STORAGE_DIR]
//   env: PORT (default 3030), STORAGE_DIR (default ./data), HOST (default 127.0.0.1)
//
// Prints `listening <port>` once the socket is bound. On SIGTERM/SIGINT it flushes the repo's
// pending saves and exits.
import fs from "node:fs"
import os from "node:os"
import { WebSocketServer } from "ws"
import { Repo } from "@automerge/automerge-repo"
import { NodeWSServerAdapter } from "@automerge/automerge-repo-network-websocket"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"

function arg(name) {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}

const port = Number(arg("port") ?? process.env.PORT ?? 3030)
const dir = arg("dir") ?? process.env.STORAGE_DIR ?? "./data"
// Loopback by default: this is a benchmark baseline, not a service.
const host = arg("host") ?? process.env.HOST ?? "127.0.0.1"
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`bad port: ${port}`)
  process.exit(2)
}
fs.mkdirSync(dir, { recursive: true })

const wss = new WebSocketServer({ host, port })
const repo = new Repo({
  network: [new NodeWSServerAdapter(wss)],
  storage: new NodeFSStorageAdapter(dir),
  peerId: `reference-sync-server-${os.hostname()}`,
  sharePolicy: async () => false,
})

wss.on("listening", () => {
  console.log(`listening ${wss.address().port}`)
})

let stopping = false
async function stop(signal) {
  if (stopping) return
  stopping = true
  console.log(`${signal}: flushing and exiting`)
  wss.close()
  let code = 0
  try {
    await repo.shutdown() // = flush(): saves every handle whose heads were not saved yet
  } catch (err) {
    console.error(`flush failed: ${err?.stack ?? err}`)
    code = 1
  }
  // Exiting as soon as flush() settled left zero-byte snapshot files here (1,000-device run):
  // a write still in flight was cut. Give writes in flight time to land before exiting.
  setTimeout(() => process.exit(code), 2000)
}
process.on("SIGTERM", () => stop("SIGTERM"))
process.on("SIGINT", () => stop("SIGINT"))

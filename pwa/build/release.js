// Vite plugin, after the bundle is written: the service worker (its precache list and a
// version that is the hash of every file it lists) and the precompressed copies (.br, .gz) the
// server sends to browsers that accept them.
import { createHash } from "node:crypto"
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs"
import { join, relative } from "node:path"
import { brotliCompressSync, constants, gzipSync } from "node:zlib"

const COMPRESSIBLE = /\.(js|css|html|svg|json|webmanifest|wasm|txt)$/
const NOT_PRECACHED = /(\.br|\.gz|\.map)$|^sw\.js$/

function files(dir) {
  return readdirSync(dir).flatMap(name => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? files(path) : [path]
  })
}

/**
 * Starts fetching the automerge wasm with the HTML, in parallel with parsing the script that
 * will ask for it (the app can do nothing before it is compiled).
 */
function preloadWasm(outDir) {
  const wasm = readdirSync(join(outDir, "assets")).find(f => f.endsWith(".wasm"))
  if (!wasm) throw new Error("the build emitted no automerge wasm")
  const index = join(outDir, "index.html")
  const link = `<link rel="preload" href="/assets/${wasm}" as="fetch" type="application/wasm" crossorigin>`
  writeFileSync(index, readFileSync(index, "utf8").replace("</title>", `</title>\n    ${link}`))
}

export function release({ serviceWorker }) {
  let outDir
  return {
    name: "taccuino-release",
    apply: "build",
    configResolved(config) {
      outDir = config.build.outDir
    },
    closeBundle() {
      preloadWasm(outDir)
      const all = files(outDir).map(path => relative(outDir, path).split("\\").join("/")).sort()
      const precached = all.filter(f => !NOT_PRECACHED.test(f))
      const hash = createHash("sha256")
      for (const f of precached) hash.update(f).update(readFileSync(join(outDir, f)))
      const version = hash.digest("hex").slice(0, 16)
      const urls = precached.map(f => (f === "index.html" ? "/" : `/${f}`))
      const sw = readFileSync(serviceWorker, "utf8")
        .replace('"__VERSION__"', JSON.stringify(version))
        .replace("__PRECACHE__", JSON.stringify(urls))
      writeFileSync(join(outDir, "sw.js"), sw)
      for (const f of [...all, "sw.js"]) {
        if (!COMPRESSIBLE.test(f)) continue
        const body = readFileSync(join(outDir, f))
        if (body.length < 1024) continue
        const br = brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: body.length } })
        const gz = gzipSync(body, { level: 9 })
        if (br.length < body.length) writeFileSync(join(outDir, `${f}.br`), br)
        if (gz.length < body.length) writeFileSync(join(outDir, `${f}.gz`), gz)
      }
    },
  }
}

// Entry point: the automerge wasm first (every document needs it), then the app.
import { initializeWasm } from "@automerge/automerge/slim"
import wasmUrl from "@automerge/automerge/automerge.wasm?url"
import { render } from "preact"
import { html } from "./lib/html.js"
import { App } from "./app.js"
import { registerServiceWorker } from "./lib/service-worker.js"
import "./styles.css"

registerServiceWorker()
await initializeWasm(wasmUrl)
const root = document.getElementById("app")
root.textContent = "" // the boot placeholder
render(html`<${App} />`, root)

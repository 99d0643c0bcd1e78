import { defineConfig } from "vite"
import { release } from "./build/release.js"

// TACCUINO_PWA_OUT: where the server's build script wants the files (its OUT_DIR).
export default defineConfig({
  build: {
    target: "es2022",
    outDir: process.env.TACCUINO_PWA_OUT ?? "dist",
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  plugins: [release({ serviceWorker: "src/sw.js" })],
})

// Vite builds the web console into dist/web, which `casm serve` serves at `/`.
// `npm run dev:web` runs the dev server with /api proxied to a local `casm serve`.
import { fileURLToPath } from 'node:url'
import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'

const root = fileURLToPath(new URL('.', import.meta.url))
const api = process.env['CASM_API'] ?? 'http://127.0.0.1:8470'

export default defineConfig({
  root,
  base: '/',
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    chunkSizeWarningLimit: 1024,
  },
  server: {
    port: 5173,
    proxy: {
      '/api': api,
      '/healthz': api,
      '/openapi.json': api,
    },
  },
})

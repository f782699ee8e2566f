import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import react from '@vitejs/plugin-react'
import type { Plugin } from 'vite'
import { defineConfig } from 'vitest/config'

// Swagger UI is copied from swagger-ui-dist into the build (so the bucket serves
// it, no CDN) under a folder named after its version: assets are uploaded with
// a one-year cache lifetime, so a new version must get a new URL.
const require = createRequire(import.meta.url)
const swaggerDir = dirname(require.resolve('swagger-ui-dist/package.json'))
const swaggerVersion = (
  JSON.parse(readFileSync(join(swaggerDir, 'package.json'), 'utf8')) as {
    version: string
  }
).version
const swaggerPath = `docs/swagger-ui-${swaggerVersion}/`
const swaggerFiles = ['swagger-ui-bundle.js', 'swagger-ui.css']

function swaggerUiDocs(): Plugin {
  return {
    name: 'orchestralink-swagger-ui',
    configureServer(server) {
      server.middlewares.use((request, response, next) => {
        const name = request.url?.split('?')[0]?.replace(/^\//, '')
        const file = swaggerFiles.find((f) => name === swaggerPath + f)
        if (!file) return next()
        const type = file.endsWith('.css') ? 'text/css' : 'text/javascript'
        response.setHeader('Content-Type', type)
        response.end(readFileSync(join(swaggerDir, file)))
      })
    },
    generateBundle() {
      for (const file of swaggerFiles) {
        this.emitFile({
          type: 'asset',
          fileName: swaggerPath + file,
          source: readFileSync(join(swaggerDir, file)),
        })
      }
    },
  }
}

export default defineConfig({
  // Served from the website bucket's root (or any folder): relative asset URLs.
  base: './',
  plugins: [react(), swaggerUiDocs()],
  define: {
    __SWAGGER_UI_PATH__: JSON.stringify(swaggerPath),
  },
  build: {
    target: 'es2022',
    sourcemap: false,
  },
  test: {
    // Pure modules run in Node; component tests say `@vitest-environment jsdom`.
    environment: 'node',
    include: ['src/**/*.test.{ts,tsx}'],
    restoreMocks: true,
    unstubGlobals: true,
  },
})

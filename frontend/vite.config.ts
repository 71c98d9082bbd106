/// <reference types="vitest/config" />
// Vite builds the single-page app into dist/ (served by the local server and by S3 +
// CloudFront). `npm run dev` proxies the API to a local server (RAGENIE_API, default
// http://127.0.0.1:8080) so the app and the API share an origin, as they do when deployed.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

const api = process.env.RAGENIE_API ?? "http://127.0.0.1:8080";
// The API's path prefixes, one list with the local server's (which answers unknown paths
// under them with a 404 problem instead of the app).
const apiPrefixes: string[] = JSON.parse(
  readFileSync(fileURLToPath(new URL("../crates/local/api-prefixes.json", import.meta.url)), "utf8"),
);

export default defineConfig({
  plugins: [react()],
  build: {
    // The manifest lets scripts/bench.d/frontend-size.sh find the first screen's chunks.
    manifest: true,
    target: "es2022",
    sourcemap: false,
  },
  server: {
    host: "127.0.0.1",
    proxy: Object.fromEntries(apiPrefixes.map((p) => [p, { target: api, changeOrigin: false }])),
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.{ts,tsx}"],
    setupFiles: ["src/test/setup.ts"],
    restoreMocks: true,
    // Component tests type into forms; on two shared cores they can take seconds.
    testTimeout: 30_000,
    // `npm run coverage` (and scripts/bench.sh coverage): every source file counts, whether a
    // test imports it or not; the tests and their helpers do not.
    coverage: {
      provider: "v8",
      include: ["src/**/*.{ts,tsx}"],
      exclude: ["src/**/*.test.{ts,tsx}", "src/test/**"],
      reporter: ["text", "json-summary"],
      reportsDirectory: "../target/coverage/frontend",
    },
  },
});

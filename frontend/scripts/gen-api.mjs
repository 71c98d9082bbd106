// Regenerates src/api/types.ts from the OpenAPI document the server serves (`GET /openapi.json`,
// printed without a server by the `ragenie-openapi` binary), with openapi-typescript.
//
//   npm run gen:api                      # dump the document with cargo, write src/api/types.ts
//   node scripts/gen-api.mjs IN.json OUT  # what scripts/test.d/45-api-contract.sh compares
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const frontend = resolve(dirname(fileURLToPath(import.meta.url)), "..");
let [input, output] = process.argv.slice(2);
if (!input) {
  const doc = execFileSync("cargo", ["run", "-q", "-p", "ragenie-local", "--bin", "ragenie-openapi"], {
    cwd: resolve(frontend, ".."),
    maxBuffer: 64 * 1024 * 1024,
    stdio: ["ignore", "pipe", "inherit"],
  });
  input = join(mkdtempSync(join(tmpdir(), "ragenie-openapi-")), "openapi.json");
  writeFileSync(input, doc);
}
output = resolve(output ?? join(frontend, "src/api/types.ts"));
execFileSync(
  join(frontend, "node_modules/.bin/openapi-typescript"),
  [resolve(input), "--output", output, "--root-types", "--root-types-no-schema-prefix"],
  { cwd: frontend, stdio: ["ignore", "ignore", "inherit"] },
);

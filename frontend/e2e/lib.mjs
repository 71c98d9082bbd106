// Shared by the end-to-end suites: Debian's Chromium through playwright-core, steps that
// assert and stop at the first failure with a screenshot, polling, and the results file.

import { strict as assert } from "node:assert";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

export const BASE = (process.env.RAGENIE_E2E_URL ?? "http://127.0.0.1:8080").replace(/\/$/, "");
export const SHOTS = resolve(process.env.RAGENIE_E2E_SCREENSHOTS ?? "../target/e2e-screenshots");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const STEP_TIMEOUT = Number(process.env.RAGENIE_E2E_STEP_TIMEOUT_MS ?? 30_000);

/** Starts the browser and a page; `name` tags the results file and failure screenshots. */
export async function startSuite(name) {
  mkdirSync(SHOTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // The machine's network is closed: no background requests, no component updates, no QUIC.
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
    ],
    timeout: 60_000,
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, baseURL: BASE });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: BASE }).catch(() => undefined);
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT);

  // Any uncaught exception in the app fails the suite, whatever step is running.
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));
  const consoleErrors = [];
  page.on("console", (m) => {
    if (m.type() === "error") consoleErrors.push(m.text());
  });

  let passed = 0;
  const results = [];

  async function finish(code) {
    writeFileSync(join(SHOTS, `results-${name}.json`), JSON.stringify({ base: BASE, passed, results }, null, 2));
    await browser.close().catch(() => undefined);
    process.exit(code);
  }

  async function step(title, fn) {
    const started = Date.now();
    process.stdout.write(`  • ${title} … `);
    try {
      await fn();
      assert.deepEqual(pageErrors, [], "the app threw uncaught errors");
      const ms = Date.now() - started;
      console.log(`ok (${ms} ms)`);
      results.push({ name: title, ok: true, ms });
      passed++;
    } catch (e) {
      console.log("FAILED");
      console.error(`    ${e?.stack ?? e}`);
      if (consoleErrors.length) console.error(`    browser console errors:\n      ${consoleErrors.slice(-10).join("\n      ")}`);
      const file = join(SHOTS, `FAILED-${name}-${title.replace(/[^\w]+/g, "-")}.png`);
      await page.screenshot({ path: file, fullPage: true }).catch(() => undefined);
      console.error(`    screenshot: ${file}`);
      results.push({ name: title, ok: false, error: String(e?.message ?? e) });
      await finish(1);
    }
  }

  async function shot(file) {
    await page.screenshot({ path: join(SHOTS, `${file}.png`), fullPage: false });
  }

  async function done() {
    console.log(`e2e ${name}: ${passed} steps passed; screenshots in ${SHOTS}`);
    await finish(0);
  }

  return { browser, context, page, step, shot, done };
}

/** Polls `fn` until it returns a truthy value (returned) or `timeout` ms pass. */
export async function eventually(fn, what, timeout = STEP_TIMEOUT) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A fresh account: signs up through the form and lands on the chat screen. */
export async function signUp(page, email, password) {
  await page.goto("/signup");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByLabel("Confirm password").fill(password);
  await page.getByRole("button", { name: "Sign up" }).click();
  await page.waitForURL("**/app/chat");
}

// Shared by the end-to-end suites: Debian's Chromium through playwright-core, steps that
// assert and stop at the first failure with a screenshot, polling, and the results file.

import { strict as assert } from "node:assert";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

export const BASE = (process.env.RAGENIE_E2E_URL ?? "http://127.0.0.1:8080").replace(/\/$/, "");
export const SHOTS = resolve(process.env.RAGENIE_E2E_SCREENSHOTS ?? "../target/e2e-screenshots");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const STEP_TIMEOUT = Number(process.env.RAGENIE_E2E_STEP_TIMEOUT_MS ?? 30_000);

/** Screen sizes the suites run at: a desktop window and a phone (390×844, an iPhone 14). */
export const VIEWPORTS = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 390, height: 844 },
};

/**
 * Starts the browser and a page; `name` tags the results file and failure screenshots.
 * `viewport` is a key of VIEWPORTS; every screenshot also checks the layout (checkLayout).
 */
export async function startSuite(name, viewport = "desktop") {
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
  const size = VIEWPORTS[viewport];
  if (!size) throw new Error(`unknown viewport ${viewport}`);
  const context = await browser.newContext({ viewport: size, baseURL: BASE, hasTouch: viewport === "phone", isMobile: viewport === "phone" });
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
    writeFileSync(join(SHOTS, `results-${name}.json`), JSON.stringify({ base: BASE, viewport, passed, results }, null, 2));
    writeAxeResults(name);
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

  /** Checks the layout of what is on screen, then saves a screenshot named for the viewport. */
  async function shot(file) {
    await checkLayout(page, file, size);
    await page.screenshot({ path: join(SHOTS, `${viewport}-${file}.png`), fullPage: false });
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

/**
 * Fails when the page scrolls sideways or a visible control lies (partly) outside the viewport's
 * width; on the chat screen the composer's text box and Send/Stop, and the model picker, must
 * also be inside its height. Controls of a closed menu or drawer are hidden, so not checked.
 * `size` is the screen the suite emulates: a phone's browser widens its layout to fit content
 * that overflows, so window.innerWidth alone would hide the very overflow looked for.
 */
export async function checkLayout(page, where, size) {
  const problems = await page.evaluate((size) => {
    const out = [];
    const width = Math.min(window.innerWidth, size.width);
    const height = Math.min(window.innerHeight, size.height);
    const overflow = Math.max(document.documentElement.scrollWidth, window.innerWidth) - width;
    if (overflow > 1) out.push(`the page scrolls sideways by ${overflow}px`);
    const controls = document.querySelectorAll("a[href], button, input, select, textarea, summary, [tabindex]:not([tabindex='-1']), [role=button]");
    const name = (el) => (el.getAttribute("aria-label") || el.textContent || el.getAttribute("name") || el.id || el.tagName).trim().slice(0, 40);
    for (const el of controls) {
      const style = getComputedStyle(el);
      if (style.visibility === "hidden" || style.display === "none") continue;
      const r = el.getBoundingClientRect();
      // Zero-sized and visually hidden (1 px, clipped) controls are not on screen to begin with.
      if (r.width <= 1 || r.height <= 1) continue;
      if (r.left < -1 || r.right > width + 1) out.push(`${el.tagName.toLowerCase()} "${name(el)}" is outside the screen's width (${Math.round(r.left)}..${Math.round(r.right)} of ${width})`);
    }
    for (const sel of ["#composer-input", "form[aria-label='Message composer'] button", "select"]) {
      if (!document.querySelector("#composer-input")) break;
      for (const el of document.querySelectorAll(sel)) {
        if (sel === "select" && !el.closest(".chat-pickers")) continue;
        const r = el.getBoundingClientRect();
        if (r.width === 0) continue;
        if (r.top < -1 || r.bottom > height + 1) out.push(`${el.tagName.toLowerCase()} "${name(el)}" of the chat is outside the screen's height (${Math.round(r.top)}..${Math.round(r.bottom)} of ${height})`);
      }
    }
    return out;
  }, size);
  assert.deepEqual(problems, [], `layout of ${where}`);
}

/** Whether the app shows its phone layout (the navigation folded into a menu). */
export async function isNarrow(page) {
  return page.getByRole("button", { name: "Menu" }).isVisible();
}

/** Goes to a screen through the main navigation, opening the menu first on a phone. */
export async function navTo(page, label) {
  if (await isNarrow(page)) await page.getByRole("button", { name: "Menu" }).click();
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: label }).click();
}

/** Opens the conversation list (a drawer on a phone; always shown on a desktop). */
export async function openChats(page) {
  await page.locator("#composer-input").waitFor(); // the chat screen is loaded (its own chunk)
  const toggle = page.getByRole("button", { name: "Chats" });
  if ((await toggle.isVisible()) && (await toggle.getAttribute("aria-expanded")) !== "true") await toggle.click();
  await page.getByRole("complementary", { name: "Conversations" }).waitFor();
}

/** Starts a new chat from the conversation list. */
export async function newChat(page) {
  await openChats(page);
  await page.getByRole("button", { name: "+ New chat" }).click();
}

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const axeResults = [];

/**
 * Runs axe-core (WCAG 2.x A and AA rules and best practices) on the page as it is and fails on
 * any serious or critical violation. Counts by impact are kept for writeAxeResults. axe is
 * evaluated through the DevTools protocol, so the page's Content-Security-Policy stays in force.
 */
export async function checkAccessibility(page, label) {
  await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"] },
      resultTypes: ["violations"],
    });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.length,
      targets: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
    }));
  });
  const byImpact = { critical: 0, serious: 0, moderate: 0, minor: 0 };
  for (const v of result) byImpact[v.impact] = (byImpact[v.impact] ?? 0) + v.nodes;
  axeResults.push({ page: label, byImpact, violations: result });
  const bad = result.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(
    bad.map((v) => `${v.impact} ${v.id}: ${v.help} (${v.targets.join(", ")})`),
    [],
    `accessibility of ${label}`,
  );
}

/** Writes the axe results of this run (every page checked, violations by impact). */
export function writeAxeResults(name) {
  if (axeResults.length) writeFileSync(join(SHOTS, `axe-${name}.json`), JSON.stringify(axeResults, null, 2));
}

/** Presses Tab until the focused element's name matches `name` (a string or a RegExp). */
export async function tabTo(page, name, max = 80) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press("Tab");
    const current = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return "";
      const label = el.getAttribute("aria-label") || el.labels?.[0]?.textContent || el.textContent || "";
      return label.replace(/\s+/g, " ").trim();
    });
    if (typeof name === "string" ? current === name : name.test(current)) return;
  }
  throw new Error(`"${name}" cannot be reached with the Tab key`);
}

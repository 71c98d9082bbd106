// End-to-end, offline mode: a server with no model provider configured. The chat screen says so
// plainly, and the built-in retrieval-only model still answers from the user's documents, with
// citations. Run by scripts/test.d/50-e2e.sh against a second server started without keys.

import { strict as assert } from "node:assert";
import { eventually, signUp, startSuite } from "./lib.mjs";

const { page, step, shot, done } = await startSuite("offline");
const email = `offline-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;

await step("offline: a new account sees the offline banner and the retrieval-only model", async () => {
  await signUp(page, email, "offline correct horse battery staple");
  const banner = page.getByTestId("offline-banner");
  await banner.waitFor();
  assert.match((await banner.textContent()) ?? "", /No model provider is configured/);
  const model = page.getByLabel("Model");
  await eventually(async () => /Retrieval only/.test((await model.locator("option:checked").textContent()) ?? ""), "the retrieval-only model selected");
  await shot("offline-chat");
});

await step("offline: an answer made of the most relevant passages, with a citation", async () => {
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Documents" }).click();
  await page.getByLabel("Files to upload").setInputFiles({
    name: "kettles.md",
    mimeType: "text/markdown",
    buffer: Buffer.from("# Kettles\n\n## Descaling\n\nDescale the kettle monthly with white vinegar and rinse twice.\n"),
  });
  const row = page.getByRole("row", { name: /kettles\.md/ });
  await eventually(async () => (await row.textContent())?.includes("ready"), "the document to be ready");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Profiles" }).click();
  await page.getByRole("heading", { name: "New profile" }).waitFor();
  await page.getByLabel("Name", { exact: true }).fill("Home");
  await page.getByRole("checkbox", { name: /kettles\.md/ }).check();
  await page.getByRole("button", { name: "Create profile" }).click();
  await page.getByRole("status").filter({ hasText: "created" }).waitFor();

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Chat" }).click();
  await page.getByRole("combobox", { name: "Profile" }).selectOption({ label: "Home" });
  const box = page.getByRole("textbox", { name: "Message", exact: true });
  await box.fill("How often should I descale the kettle?");
  await box.press("Enter");
  await eventually(async () => (await page.getByTestId("pending-answer").count()) === 0, "the stored answer");
  const answer = page.getByRole("article", { name: "Answer" }).last();
  assert.match((await answer.textContent()) ?? "", /vinegar/i, "the answer quotes the passage");
  await answer.locator("button.cite").first().click();
  const panel = page.getByRole("dialog", { name: /Citation/ });
  await eventually(async () => (await panel.textContent())?.includes("kettles.md"), "the cited document");
  await shot("offline-answer");
});

await done();

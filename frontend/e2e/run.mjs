// End-to-end suite: Debian's Chromium, driven by playwright-core, against a running RaGenie
// (the local server serving the built app and the API on one origin, with model providers —
// the fakes in tests). Started by scripts/test.d/50-e2e.sh, which provides the server; by hand:
//   RAGENIE_E2E_URL=http://127.0.0.1:8080 node e2e/run.mjs
// Every step asserts; the first failure stops the suite with a screenshot and exit code 1.
// RAGENIE_E2E_VIEWPORT=phone runs the same journey on a 390×844 touch screen (default: desktop);
// every screenshot also checks the layout (lib.mjs checkLayout), and every screen is checked by
// axe-core in light and dark mode.

import { strict as assert } from "node:assert";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BASE, STEP_TIMEOUT, checkAccessibility, eventually, navTo, newChat, openChats, startSuite, tabTo } from "./lib.mjs";

const VIEWPORT = process.env.RAGENIE_E2E_VIEWPORT ?? "desktop";

/** Which parts of the flow to run (default all); scripts/test.d/50-e2e.sh may narrow it. */
const PARTS = new Set(
  (process.env.RAGENIE_E2E_PARTS ?? "auth,settings,profiles,documents,chat,usage").split(",").map((s) => s.trim()),
);

const { context, page, step, shot, done } = await startSuite(`main-${VIEWPORT}`, VIEWPORT);

const email = `e2e-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
const password = "e2e correct horse battery staple";
const profileName = `Research ${Date.now() % 100000}`;
const question = "What does the zebrafish handbook say about feeding?";
const docName = "zebrafish-handbook.md";
let conversationPath = "";
const docText = `# Zebrafish handbook

## Feeding

Adult zebrafish are fed twice a day with brine shrimp. Larvae start on paramecia at five days.

## Water

Keep the water at 28 degrees Celsius.
`;

console.log(`RaGenie e2e against ${BASE} at ${VIEWPORT} size (parts: ${[...PARTS].join(", ")})`);

// ---------------------------------------------------------------- accounts
await step("an anonymous visitor lands on the sign-in screen", async () => {
  await page.goto("/");
  await page.getByRole("heading", { name: "Sign in to RaGenie" }).waitFor();
  assert.match(new URL(page.url()).pathname, /^\/login$/);
  await shot("01-sign-in");
  await checkAccessibility(page, "sign-in");
});

await step("sign up with a new account opens the chat screen", async () => {
  await page.getByRole("link", { name: "Create an account" }).click();
  await page.getByRole("heading", { name: "Create your RaGenie account" }).waitFor();
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByLabel("Confirm password").fill(password);
  await shot("02-sign-up");
  await checkAccessibility(page, "sign-up");
  await page.getByRole("button", { name: "Sign up" }).click();
  await page.waitForURL("**/app/chat");
  await page.locator("#composer-input").waitFor();
  const stored = await page.evaluate(() => JSON.parse(localStorage.getItem("ragenie.tokens") ?? "null"));
  assert.ok(stored?.access_token && stored?.refresh_token, "tokens are kept after sign-up");
});

await step("signing up twice with the same email shows the server's reason", async () => {
  const other = await context.browser().newContext({ baseURL: BASE });
  const p = await other.newPage();
  p.setDefaultTimeout(STEP_TIMEOUT);
  await p.goto("/signup");
  await p.getByLabel("Email").fill(email);
  await p.getByLabel("Password", { exact: true }).fill(password);
  await p.getByLabel("Confirm password").fill(password);
  await p.getByRole("button", { name: "Sign up" }).click();
  const alert = p.getByRole("alert");
  await alert.waitFor();
  const text = (await alert.textContent()) ?? "";
  assert.ok(text.trim().length > 5 && !/undefined|\[object/i.test(text), `readable error, got "${text}"`);
  assert.match(new URL(p.url()).pathname, /^\/signup$/);
  await other.close();
});

await step("an expired access token is refreshed transparently", async () => {
  // Spoil the access token; the next API call gets a 401 and the client refreshes once.
  await page.evaluate(() => {
    const t = JSON.parse(localStorage.getItem("ragenie.tokens"));
    t.access_token = "expired." + t.access_token.slice(8);
    localStorage.setItem("ragenie.tokens", JSON.stringify(t));
  });
  const refreshed = page.waitForResponse((r) => r.url().endsWith("/auth/refresh") && r.status() === 200);
  await page.goto("/app/settings");
  await refreshed;
  await page.getByText(`Signed in as ${email}`).waitFor();
});

if (PARTS.has("settings")) {
  await step("settings: create a personal API key, shown once, then revoke it", async () => {
    await page.goto("/app/settings");
    await page.getByLabel("Key name").fill("e2e script");
    // Needed when the sign-in is over 5 minutes old (a slow machine); harmless before.
    await page.getByLabel("Your password").fill(password);
    await page.getByRole("button", { name: "Create key" }).click();
    const key = (await page.getByTestId("new-api-key").textContent())?.trim() ?? "";
    assert.ok(key.length >= 20, `a full key is shown once, got "${key}"`);
    const row = page.getByRole("row", { name: /e2e script/ });
    await row.waitFor();
    assert.ok(!((await row.textContent()) ?? "").includes(key), "the list never shows the whole key");
    await shot("08-settings");
    page.once("dialog", (d) => d.accept());
    await page.getByRole("button", { name: "Revoke e2e script" }).click();
    await row.waitFor({ state: "detached" });
  });
}

// ---------------------------------------------------------------- profiles and documents
if (PARTS.has("profiles")) {
  await step("create a profile", async () => {
    await navTo(page, "Profiles");
    await page.getByRole("heading", { name: "New profile" }).waitFor();
    await page.getByLabel("Name", { exact: true }).fill(profileName);
    await page.getByLabel("Description").fill("Papers and lab notes");
    await page.getByRole("button", { name: "Create profile" }).click();
    await page.getByRole("status").filter({ hasText: "created" }).waitFor();
    await page.getByRole("navigation", { name: "Profiles" }).getByRole("link", { name: profileName }).waitFor();
    assert.match(new URL(page.url()).pathname, /^\/app\/profiles\/[^/]+$/);
    // Stored, not only shown: a reload reads it back from the server.
    await page.reload();
    await eventually(async () => (await page.getByLabel("Description").inputValue()) === "Papers and lab notes", "the saved description");
    await shot("03-profile");
    await checkAccessibility(page, "profile editor");
  });
}

if (PARTS.has("documents")) {
  await step("upload a document with a progress bar and see it ready", async () => {
    await navTo(page, "Documents");
    await page.getByRole("heading", { name: "Documents", exact: true }).waitFor();
    await page.getByLabel("Upload as").selectOption("dataset");
    await page.getByLabel("Files to upload").setInputFiles({ name: docName, mimeType: "text/markdown", buffer: Buffer.from(docText) });
    const upload = page.getByRole("list", { name: "Uploads" }).getByRole("listitem").filter({ hasText: docName });
    await upload.getByText("uploaded").waitFor();
    assert.equal(await upload.getByRole("progressbar").getAttribute("value"), String(Buffer.byteLength(docText)));
    const row = page.getByRole("row", { name: new RegExp(docName) });
    await eventually(async () => (await row.textContent())?.includes("ready"), "the document to be ready");
    await row.getByRole("button", { name: `Preview ${docName}` }).click();
    await eventually(async () => (await page.getByTestId("document-preview").textContent())?.includes("brine shrimp"), "the extracted text");
    await shot("04-documents");
    await checkAccessibility(page, "documents with a preview");
  });

  await step("drop a file, rename it, replace it with a new version, delete it", async () => {
    await page.getByLabel("Upload as").selectOption("instructions");
    // A real drop event carrying a file, as a browser fires it when a file is dragged in.
    const transfer = await page.evaluateHandle(() => {
      const dt = new DataTransfer();
      dt.items.add(new File(["# Tone\n\nAnswer briefly."], "tone.md", { type: "text/markdown" }));
      return dt;
    });
    await page.getByTestId("dropzone").dispatchEvent("drop", { dataTransfer: transfer });
    const row = () => page.getByRole("row", { name: /tone\.md|house-style\.md/ });
    await eventually(async () => (await row().textContent())?.includes("ready"), "the dropped document to be ready");
    assert.ok(
      (await page.getByRole("heading", { name: "Instructions" }).count()) === 1,
      "the dropped file is listed under Instructions",
    );
    await row().getByRole("button", { name: "Rename tone.md" }).click();
    await row().getByLabel("New name for tone.md").fill("house-style.md");
    await row().getByRole("button", { name: "Save" }).click();
    await page.getByRole("row", { name: /house-style\.md/ }).waitFor();
    await page.reload();
    await page.getByRole("row", { name: /house-style\.md/ }).waitFor();
    await row().getByLabel("New version of house-style.md").setInputFiles({
      name: "house-style.md",
      mimeType: "text/markdown",
      buffer: Buffer.from("# Tone\n\nAnswer briefly, in British English."),
    });
    // Version 2, ready, and the preview shows the new text.
    await eventually(async () => /\b2\b/.test((await row().locator("td").nth(4).textContent()) ?? ""), "version 2");
    await eventually(async () => (await row().textContent())?.includes("ready"), "the new version to be ready");
    await row().getByRole("button", { name: "Preview house-style.md" }).click();
    await eventually(async () => (await page.getByTestId("document-preview").textContent())?.includes("British English"), "the new text");
    page.once("dialog", (d) => d.accept());
    await row().getByRole("button", { name: "Delete house-style.md" }).click();
    await row().waitFor({ state: "detached" });
    await page.reload();
    await page.getByRole("row", { name: new RegExp(docName) }).waitFor();
    assert.equal(await page.getByRole("row", { name: /house-style\.md/ }).count(), 0, "deleted for good");
  });

  await step("a document whose ingestion fails says why, and its retry runs it again", async () => {
    await page.getByLabel("Upload as").selectOption("dataset");
    // A PDF header over bytes no PDF parser can read: stored, then ingestion fails.
    const broken = Buffer.from("%PDF-1.7\n" + "not a pdf body ".repeat(40));
    await page.getByLabel("Files to upload").setInputFiles({ name: "broken.pdf", mimeType: "application/pdf", buffer: broken });
    const row = () => page.getByRole("row", { name: /broken\.pdf/ });
    await eventually(async () => (await row().textContent())?.includes("failed"), "the broken PDF to fail");
    // The document as the API has it, read with the page's own session.
    const stored = () =>
      page.evaluate(async () => {
        const { access_token } = JSON.parse(localStorage.getItem("ragenie.tokens") ?? "{}");
        const r = await fetch("/documents?limit=100", { headers: { Authorization: `Bearer ${access_token}` } });
        return (await r.json()).items.find((d) => d.name === "broken.pdf");
      });
    const before = await stored();
    assert.equal(before.status, "failed");
    assert.ok(before.failure_reason, "a failed document says why");
    assert.ok((await row().textContent())?.includes(before.failure_reason), "the reason is on the row");
    const retried = page.waitForResponse((r) => /\/documents\/[^/]+\/reindex$/.test(r.url()) && r.request().method() === "POST");
    await row().getByRole("button", { name: "Retry indexing broken.pdf" }).click();
    assert.equal((await retried).status(), 202, "the retry was accepted");
    // Ingested again from its stored bytes, it fails again, later, for the same reason.
    await eventually(async () => {
      const after = await stored();
      return after.status === "failed" && after.updated_at !== before.updated_at;
    }, "the retried ingestion to run and end failed again");
    assert.equal((await stored()).failure_reason, before.failure_reason);
    await eventually(async () => (await row().textContent())?.includes("failed"), "the row to show the new outcome");
    page.once("dialog", (d) => d.accept());
    await row().getByRole("button", { name: "Delete broken.pdf" }).click();
    await row().waitFor({ state: "detached" });
  });

  await step("upload a folder: its files keep their paths, the tree counts them", async () => {
    await page.getByLabel("Upload as").selectOption("dataset");
    // A Ragbot-style folder with two same-named files, chosen with the directory picker.
    const dir = mkdtempSync(join(tmpdir(), "ragenie-e2e-"));
    for (const [sub, text] of [["a", "# A\n\nAlpha notes."], ["b", "# B\n\nBravo notes."]]) {
      mkdirSync(join(dir, "project", sub), { recursive: true });
      writeFileSync(join(dir, "project", sub, "README.md"), text);
    }
    await page.getByLabel("Folder to upload").setInputFiles(join(dir, "project"));
    const tree = page.getByRole("navigation", { name: "Folders" });
    await tree.getByRole("button", { name: /^project\s*2$/ }).waitFor();
    await tree.getByRole("button", { name: /^a\s*1$/ }).click();
    await page.getByRole("heading", { name: "Documents in project/a" }).waitFor();
    const row = page.getByRole("row", { name: /README\.md/ });
    await eventually(async () => (await row.count()) === 1 && (await row.textContent())?.includes("project/a/"), "project/a/README.md listed alone");
    await shot("04b-folders");
    await checkAccessibility(page, "documents with a folder tree");
    // Rename the chosen folder from the keyboard: its document moves and the list follows it.
    await tree.getByRole("button", { name: "Rename or move folder project/a" }).focus();
    await page.keyboard.press("Enter");
    const newPath = tree.getByLabel(/New path for project\/a/);
    await newPath.fill("archive/alpha");
    await shot("04c-folder-rename");
    await newPath.press("Enter");
    await page.getByRole("status", { name: "Folder move" }).filter({ hasText: "Moved project/a to archive/alpha: 1 document." }).waitFor();
    await page.getByRole("heading", { name: "Documents in archive/alpha" }).waitFor();
    await tree.getByRole("button", { name: /^alpha\s*1$/ }).waitFor();
    assert.equal(await tree.getByRole("button", { name: /^a\s*1$/ }).count(), 0, "project/a moved away");
    await eventually(async () => (await row.textContent())?.includes("archive/alpha/"), "the README listed in its new folder");
    await tree.getByRole("button", { name: /All documents/ }).click();
    rmSync(dir, { recursive: true, force: true });
  });

  if (PARTS.has("profiles")) {
    await step("add the document to the profile's datasets", async () => {
      await navTo(page, "Profiles");
      await page.getByRole("navigation", { name: "Profiles" }).getByRole("link", { name: profileName }).click();
      await page.getByRole("checkbox", { name: docName }).check();
      await page.getByRole("button", { name: "Save" }).click();
      await page.getByRole("status").filter({ hasText: "Saved" }).waitFor();
      await page.reload();
      await eventually(() => page.getByRole("checkbox", { name: docName }).isChecked(), "the dataset to stay selected after a reload");
    });
  }
}

// ---------------------------------------------------------------- chat
if (PARTS.has("chat")) {
  await step("ask a question and see the streamed answer with a citation", async () => {
    await navTo(page, "Chat");
    await newChat(page);
    await page.getByRole("combobox", { name: "Profile" }).selectOption({ label: profileName });
    const modelInfo = page.getByTestId("model-info");
    await modelInfo.waitFor();
    assert.match((await modelInfo.textContent()) ?? "", /context .*tokens/);
    const box = page.getByRole("textbox", { name: "Message", exact: true });
    // A slow stream (the fake provider's per-chunk delay) so the growing answer can be seen.
    await box.fill(`${question} [[fake:delay=40 chunk=12]]`);
    await eventually(async () => /est\. cost/.test((await page.getByTestId("estimate").textContent()) ?? ""), "the estimate before sending");
    const estimate = (await page.getByTestId("estimate").textContent()) ?? "";
    assert.match(estimate, /datasets \d/, `tokens by source before sending, got "${estimate}"`);
    await box.press("Enter");
    // Streamed: the pending answer grows, chunk by chunk, before the stream ends.
    const pending = page.getByTestId("pending-answer");
    await pending.waitFor();
    const early = await eventually(async () => {
      const t = ((await pending.textContent()) ?? "").trim();
      return t.length > 0 && !/Thinking/.test(t) ? t : null;
    }, "the first streamed text");
    const later = await eventually(async () => {
      const t = ((await pending.textContent()) ?? "").trim();
      return t.length > early.length ? t : null;
    }, "more streamed text");
    assert.ok(later.startsWith(early.slice(0, 10)), "the answer grows at its end");
    await page.waitForURL(/\/app\/chat\/[^/]+$/);
    conversationPath = new URL(page.url()).pathname;
    // The stored answer replaces the streamed copy; its model, tokens and cost are a tap away.
    const answer = page.getByRole("article", { name: "Answer" }).last();
    await eventually(async () => (await page.getByTestId("pending-answer").count()) === 0, "the stored answer");
    await answer.getByRole("button", { name: "Details" }).click();
    const usage = answer.getByTestId("answer-usage");
    await usage.waitFor();
    assert.match((await usage.textContent()) ?? "", /\d+ in · \d+ out · (\$|<\$)/);
    await shot("05b-answer-details");
    await checkAccessibility(page, "chat with an answer's details");
    await answer.getByRole("button", { name: "Details" }).click();
    await page.mouse.move(0, 0); // off the button: hovering shows the details too
    await usage.waitFor({ state: "hidden" });
    assert.match((await answer.textContent()) ?? "", /zebrafish handbook say about feeding/);
    const cite = answer.locator("button.cite").first();
    await cite.waitFor();
    await shot("05-chat-answer");
    await cite.click();
    const panel = page.getByRole("dialog", { name: /Citation/ });
    await panel.waitFor();
    await eventually(async () => (await panel.textContent())?.includes(docName), "the cited document in the panel");
    await eventually(async () => (await panel.getByTestId("cited-passage").textContent())?.includes("brine shrimp"), "the cited passage");
    await shot("06-citation");
    await checkAccessibility(page, "chat with a citation open");
    await panel.getByRole("button", { name: "Close" }).click();
  });

  await step("stop a long answer", async () => {
    const box = page.getByRole("textbox", { name: "Message", exact: true });
    await box.fill("Tell me everything, at length. [[fake:long=4000 delay=20]]");
    await box.press("Enter");
    const stop = page.getByRole("button", { name: /Stop/ });
    await stop.waitFor();
    const pending = page.getByTestId("pending-answer");
    await eventually(async () => ((await pending.textContent()) ?? "").length > 40, "the long answer to start");
    await stop.click();
    await page.getByRole("button", { name: "Send" }).waitFor();
    // The partial answer is stored (the streamed copy gives way to the server's record),
    // marked as stopped, far short of its 4000 words.
    await eventually(async () => (await page.getByTestId("pending-answer").count()) === 0, "the stored partial answer");
    const answer = page.getByRole("article", { name: "Answer" }).last();
    await answer.getByText("stopped", { exact: true }).waitFor();
    const text = (await answer.locator(".bubble").textContent()) ?? "";
    const words = text.split(/\s+/).filter(Boolean).length;
    assert.ok(words > 3 && words < 3500, `a partial answer, got ${words} words`);
    await shot("07-stopped");
  });

  await step("regenerate an answer and move between the branches", async () => {
    const first = page.getByRole("article", { name: "Answer" }).first();
    await first.getByRole("button", { name: "Regenerate" }).click();
    const nav = page.getByRole("group", { name: "Branches" }).first();
    await nav.waitFor();
    await eventually(async () => (await nav.textContent())?.includes("2/2"), "a second answer beside the first");
    // The regenerated branch has no follow-up; the first answer's branch has the stopped one.
    assert.equal(await page.getByText("stopped", { exact: true }).count(), 0);
    await nav.getByRole("button", { name: "Previous branch" }).click();
    await eventually(async () => (await nav.textContent())?.includes("1/2"), "back on the first branch");
    await page.getByText("stopped", { exact: true }).waitFor();
  });

  await step("search conversations", async () => {
    await newChat(page);
    await page.waitForURL("**/app/chat");
    await openChats(page);
    await page.getByLabel("Search conversations").fill("zebrafish");
    const results = page.getByRole("list", { name: "Search results" });
    await results.waitFor();
    const hit = results.getByRole("link", { name: /zebrafish/i }).first();
    await hit.waitFor();
    await shot("10-search");
    await hit.click();
    await page.waitForURL(`**${conversationPath}`);
    await page.getByRole("article", { name: "Answer" }).first().waitFor();
    await openChats(page);
    await page.getByLabel("Search conversations").fill("");
    await page.keyboard.press("Escape"); // closes the drawer on a phone
  });
}

if (PARTS.has("chat") && PARTS.has("profiles")) {
  await step("a profile's default model answers a new chat when no model is picked", async () => {
    await navTo(page, "Profiles");
    await page.getByRole("navigation", { name: "Profiles" }).getByRole("link", { name: profileName }).click();
    await page.getByLabel("Default model").selectOption("claude-sonnet-4-5");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("status").filter({ hasText: "Saved" }).waitFor();
    await navTo(page, "Chat");
    await newChat(page);
    await page.waitForURL("**/app/chat");
    await page.getByRole("combobox", { name: "Profile" }).selectOption({ label: profileName });
    // Shown before sending, and used: the stored answer names the model that wrote it.
    const model = page.getByRole("combobox", { name: "Model" });
    await eventually(async () => (await model.inputValue()) === "claude-sonnet-4-5", "the profile's model in the selector");
    const box = page.getByRole("textbox", { name: "Message", exact: true });
    await box.fill("Which model answers this?");
    await box.press("Enter");
    await page.waitForURL(/\/app\/chat\/[^/]+$/);
    const answer = page.getByRole("article", { name: "Answer" }).last();
    await eventually(async () => (await page.getByTestId("pending-answer").count()) === 0, "the stored answer");
    await answer.getByRole("button", { name: "Details" }).click();
    await answer.getByText("claude-sonnet-4-5", { exact: true }).waitFor();
  });
}

if (PARTS.has("usage")) {
  await step("usage screen shows a chart", async () => {
    await navTo(page, "Usage");
    const chart = page.getByRole("img", { name: /per day/ });
    await chart.waitFor();
    // Today's answers cost something: at least one bar above zero, and the model in the table.
    await eventually(async () => (await chart.locator("rect.bar").evaluateAll((bars) => bars.filter((b) => Number(b.getAttribute("height")) > 0).length)) >= 1, "a bar for today");
    await page.getByRole("cell", { name: /gpt|claude|gemini/i }).first().waitFor();
    await shot("09-usage");
  });
}

// ---------------------------------------------------------------- every screen renders
await step("every screen renders, fits the screen and passes axe-core, in light and dark", async () => {
  const screens = [
    ["chat", conversationPath || "/app/chat"],
    ["documents", "/app/documents"],
    ["profiles", "/app/profiles"],
    ["usage", "/app/usage"],
    ["settings", "/app/settings"],
  ];
  for (const scheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const [name, path] of screens) {
      await page.goto(path);
      // The screen's own content, not only the shell: a heading and the composer or a card.
      await page.locator("main h1").first().waitFor();
      await page.locator("main #composer-input, main .card").first().waitFor();
      if (name === "chat" && conversationPath) await page.getByRole("article", { name: "Answer" }).first().waitFor();
      if (scheme === "dark") {
        const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
        assert.equal(bg, "rgb(17, 18, 23)", "dark mode follows the system");
      }
      await shot(`screen-${name}${scheme === "dark" ? "-dark" : ""}`);
      await checkAccessibility(page, `${name} (${scheme})`);
    }
  }
  // The phone's menu and drawer open: their controls on screen and accessible too.
  if (VIEWPORT === "phone") {
    await page.getByRole("button", { name: "Menu" }).click();
    await page.getByRole("navigation", { name: "Main" }).waitFor();
    await shot("menu-open-dark");
    await checkAccessibility(page, "menu open (dark)");
    await page.keyboard.press("Escape");
    await page.getByRole("navigation", { name: "Main" }).waitFor({ state: "hidden" });
    await navTo(page, "Chat");
    await openChats(page);
    await shot("chats-drawer-dark");
    await checkAccessibility(page, "conversation drawer (dark)");
    await page.getByRole("complementary", { name: "Conversations" }).getByRole("button", { name: "Close" }).click();
  }
  await page.emulateMedia({ colorScheme: "light" });
});

await step("a theme chosen in Settings wins over the system's, both ways", async () => {
  const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  await page.goto("/app/settings");
  const theme = page.getByLabel("Theme");
  await page.emulateMedia({ colorScheme: "dark" });
  await theme.selectOption("light");
  assert.equal(await background(), "rgb(247, 247, 251)", "Light on a dark system");
  await page.emulateMedia({ colorScheme: "light" });
  await theme.selectOption("dark");
  assert.equal(await background(), "rgb(17, 18, 23)", "Dark on a light system");
  await shot("settings-theme-dark-on-light-system");
  await theme.selectOption("system");
  assert.equal(await background(), "rgb(247, 247, 251)", "the system's again");
});

// ---------------------------------------------------------------- sign out
await step("sign out returns to sign-in and protects the app", async () => {
  if (VIEWPORT === "phone") await page.getByRole("button", { name: "Menu" }).click();
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await page.getByRole("heading", { name: "Sign in to RaGenie" }).waitFor();
  assert.equal(await page.evaluate(() => localStorage.getItem("ragenie.tokens")), null);
  await page.goto("/app/documents");
  await page.getByRole("heading", { name: "Sign in to RaGenie" }).waitFor();
});

await step("sign in again with the same account", async () => {
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  // Back where the user was going.
  await page.waitForURL("**/app/documents");
  await page.getByRole("heading", { name: "Documents", exact: true }).waitFor();
});

// ---------------------------------------------------------------- keyboard only
if (VIEWPORT === "desktop" && PARTS.has("documents") && PARTS.has("chat")) {
  await step("keyboard only: sign out and in, upload, ask, hear the answer and stop it", async () => {
    // No clicks from here on: Tab, Enter and typing, as a keyboard or switch user works.
    const keys = page.keyboard;
    await tabTo(page, "Sign out");
    await keys.press("Enter");
    await page.getByRole("heading", { name: "Sign in to RaGenie" }).waitFor();
    await tabTo(page, "Email");
    await keys.type(email);
    await tabTo(page, "Password");
    await keys.type(password);
    await keys.press("Enter");
    await page.getByRole("navigation", { name: "Main" }).waitFor();

    await tabTo(page, "Documents");
    await keys.press("Enter");
    await page.getByRole("heading", { name: "Documents", exact: true }).waitFor();
    await tabTo(page, "Choose files");
    const chooser = page.waitForEvent("filechooser");
    // Listening turns on file-chooser interception over the DevTools protocol; a round trip
    // after it makes sure it is on before the key press opens the chooser.
    await page.evaluate(() => document.activeElement?.textContent);
    await keys.press("Enter");
    await (await chooser).setFiles({ name: "keyboard-notes.md", mimeType: "text/markdown", buffer: Buffer.from("# Notes\n\nTyped without a mouse.\n") });
    const row = page.getByRole("row", { name: /keyboard-notes\.md/ });
    await eventually(async () => (await row.textContent())?.includes("ready"), "the uploaded document to be ready");

    await tabTo(page, "Chat");
    await keys.press("Enter");
    await page.locator("#composer-input").waitFor();
    await eventually(() => page.evaluate(() => document.activeElement?.id === "composer-input"), "the composer to have the focus");
    await keys.type("Tell me a long story. [[fake:long=3000 delay=20]]");
    await keys.press("Enter");
    const pending = page.getByTestId("pending-answer");
    await eventually(async () => ((await pending.textContent()) ?? "").length > 60, "the answer to stream");
    // Screen readers hear the answer politely, sentence by sentence, while it streams.
    const announcer = page.getByTestId("announcer");
    assert.equal(await announcer.getAttribute("aria-live"), "polite");
    await eventually(async () => ((await announcer.textContent()) ?? "").trim().length > 10, "the answer announced");
    await tabTo(page, /Stop/);
    await keys.press("Enter");
    await page.getByRole("button", { name: "Send" }).waitFor();
    const answer = page.getByRole("article", { name: "Answer" }).last();
    await answer.getByText("stopped", { exact: true }).waitFor();
    await eventually(async () => /Answer stopped\./.test((await announcer.textContent()) ?? ""), "the stop announced");
    await shot("11-keyboard-stopped");
  });
}

await done();

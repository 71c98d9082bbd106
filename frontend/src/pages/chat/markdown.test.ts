import { describe, expect, it } from "vitest";
import { renderMarkdown } from "./markdown";

describe("renderMarkdown", () => {
  it("renders citations as buttons but leaves links and code alone", () => {
    const html = renderMarkdown("Paris is the capital [1][2]. See [docs](https://example.com) and `a[3]`.");
    const doc = new DOMParser().parseFromString(html, "text/html");
    expect([...doc.querySelectorAll("button.cite")].map((b) => b.getAttribute("data-cite"))).toEqual(["1", "2"]);
    expect(doc.querySelector("a")?.getAttribute("href")).toBe("https://example.com");
    expect(doc.querySelector("code")?.textContent).toBe("a[3]");
  });

  it("highlights fenced code and adds a copy button", () => {
    const html = renderMarkdown("```rust\nfn main() { let x = 1; }\n```");
    const doc = new DOMParser().parseFromString(html, "text/html");
    expect(doc.querySelector("pre button[data-copy-code]")).not.toBeNull();
    expect(doc.querySelector("code.language-rust .hljs-keyword")?.textContent).toBe("fn");
  });

  it("strips scripts and event handlers", () => {
    const html = renderMarkdown('<img src=x onerror="alert(1)"><script>alert(2)</script>**bold**');
    expect(html).not.toMatch(/onerror|<script/);
    expect(html).toContain("<strong>bold</strong>");
  });
});

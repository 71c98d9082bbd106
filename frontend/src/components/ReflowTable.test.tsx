import { render } from "@testing-library/react";
import type { ReactNode } from "react";
import { describe, expect, it } from "vitest";
import { ReflowTable } from "./ReflowTable";

/** A reflowing table: the header cells as given, then a row of cells for each of `rows`. */
function Reflowed({ head, rows }: { head: ReactNode; rows: ReactNode[][] }) {
  return (
    <ReflowTable>
      <table>
        <thead>
          <tr>{head}</tr>
        </thead>
        <tbody>
          {rows.map((cells, i) => (
            <tr key={i}>
              {cells.map((cell, j) => (
                <td key={j}>{cell}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </ReflowTable>
  );
}

describe("ReflowTable", () => {
  it("labels every body cell with its column's header, and none for a header only screen readers see", () => {
    const { container, rerender } = render(
      <Reflowed
        head={
          <>
            <th>Name</th>
            <th className="num">Tokens</th>
            <th>
              <span className="visually-hidden">Actions</span>
            </th>
          </>
        }
        rows={[["a.md", "12", <button type="button">Delete</button>]]}
      />,
    );
    const labels = () => [...container.querySelectorAll("tbody tr")].map((tr) => [...tr.children].map((td) => (td as HTMLElement).dataset.label));
    expect(container.querySelector(".table-wrap.reflow")).not.toBeNull();
    expect(labels()).toEqual([["Name", "Tokens", ""]]);

    // Rows added later are labelled too.
    rerender(
      <Reflowed
        head={
          <>
            <th>Name</th>
            <th>Tokens</th>
          </>
        }
        rows={[
          ["a.md", "12"],
          ["b.md", "7"],
        ]}
      />,
    );
    expect(labels()).toEqual([
      ["Name", "Tokens"],
      ["Name", "Tokens"],
    ]);
  });
});

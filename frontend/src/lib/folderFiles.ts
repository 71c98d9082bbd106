// Files with the folder they came from: a folder chosen with the directory picker
// (`webkitRelativePath`) or dropped (the File and Directory Entries API), so an upload keeps
// the dropped folder's structure.

export interface PlacedFile {
  file: File;
  /** The file's folder relative to what was chosen or dropped (`top/a`; `""`: none). */
  folder: string;
}

/** `a/b` + `c/d` → `a/b/c/d`, without empty parts. */
export function joinFolder(...parts: string[]): string {
  return parts
    .flatMap((p) => p.split("/"))
    .filter((p) => p.trim() !== "")
    .join("/");
}

/** Files from an `<input type="file" webkitdirectory>` or a plain multiple-file input. */
export function placedFromInput(files: FileList | File[]): PlacedFile[] {
  return Array.from(files).map((file) => {
    const rel = file.webkitRelativePath || "";
    const slash = rel.lastIndexOf("/");
    return { file, folder: slash > 0 ? rel.slice(0, slash) : "" };
  });
}

interface Entry {
  isFile: boolean;
  isDirectory: boolean;
  name: string;
  file?: (ok: (f: File) => void, fail: (e: unknown) => void) => void;
  createReader?: () => { readEntries: (ok: (entries: Entry[]) => void, fail: (e: unknown) => void) => void };
}

/** Every file under a dropped entry, with its folder. A directory is read in batches until
 * its reader returns none (browsers hand out at most 100 entries per call). */
async function walk(entry: Entry, folder: string, out: PlacedFile[]): Promise<void> {
  if (entry.isFile && entry.file) {
    const file = await new Promise<File>((ok, fail) => entry.file!(ok, fail));
    out.push({ file, folder });
  } else if (entry.isDirectory && entry.createReader) {
    const reader = entry.createReader();
    const inside = joinFolder(folder, entry.name);
    for (;;) {
      const batch = await new Promise<Entry[]>((ok, fail) => reader.readEntries(ok, fail));
      if (!batch.length) break;
      for (const child of batch) {
        if (!child.name.startsWith(".")) await walk(child, inside, out);
      }
    }
  }
}

/** The files of a drop, folders walked. Entries are taken before any await: a DataTransfer is
 * only readable during its event. */
export async function placedFromDrop(data: DataTransfer): Promise<PlacedFile[]> {
  const entries: Entry[] = [];
  for (const item of Array.from(data.items ?? [])) {
    const entry = (item as DataTransferItem & { webkitGetAsEntry?: () => Entry | null }).webkitGetAsEntry?.();
    if (entry) entries.push(entry);
  }
  if (!entries.some((e) => e.isDirectory)) return placedFromInput(data.files);
  const out: PlacedFile[] = [];
  for (const entry of entries) await walk(entry, "", out);
  return out;
}

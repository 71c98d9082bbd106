// Loads a paged list (`{items, next_cursor}`) a page at a time: the first page on mount, the
// next on `loadMore()`. `reload()` fetches again as many pages as are shown, so a refresh (after
// an action, while polling) keeps what the user scrolled to.

import { useCallback, useEffect, useRef, useState } from "react";
import type { Page } from "../api/models";

export interface PagedState<T> {
  /** Every item loaded so far, as one page (`next_cursor`: where the next page starts). */
  data: Page<T> | undefined;
  error: unknown;
  loading: boolean;
  loadingMore: boolean;
  hasMore: boolean;
  loadMore: () => Promise<void>;
  reload: () => Promise<void>;
}

export function usePaged<T>(loadPage: (cursor?: string) => Promise<Page<T>>, deps: unknown[]): PagedState<T> {
  const [data, setData] = useState<Page<T> | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(true);
  const [loadingMore, setLoadingMore] = useState(false);
  const generation = useRef(0);
  const pages = useRef(1);
  const latest = useRef<Page<T> | undefined>(undefined);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const load = useCallback(loadPage, deps);

  const show = (page: Page<T>) => {
    latest.current = page;
    setData(page);
    setError(undefined);
  };

  const reload = useCallback(async () => {
    const mine = ++generation.current;
    setLoading(true);
    try {
      let page = await load(undefined);
      const items = [...(page.items ?? [])];
      for (let n = 1; n < pages.current && page.next_cursor; n++) {
        page = await load(page.next_cursor);
        items.push(...(page.items ?? []));
      }
      if (mine === generation.current) show({ items, next_cursor: page.next_cursor ?? null });
    } catch (e) {
      if (mine === generation.current) setError(e);
    } finally {
      if (mine === generation.current) setLoading(false);
    }
  }, [load]);

  useEffect(() => {
    pages.current = 1;
    void reload();
  }, [reload]);

  const loadMore = useCallback(async () => {
    const shown = latest.current;
    if (!shown?.next_cursor) return;
    const mine = ++generation.current;
    setLoadingMore(true);
    try {
      const page = await load(shown.next_cursor);
      if (mine === generation.current) {
        pages.current++;
        show({ items: [...(shown.items ?? []), ...(page.items ?? [])], next_cursor: page.next_cursor ?? null });
      }
    } catch (e) {
      if (mine === generation.current) setError(e);
    } finally {
      setLoadingMore(false);
    }
  }, [load]);

  return { data, error, loading, loadingMore, hasMore: Boolean(data?.next_cursor), loadMore, reload };
}

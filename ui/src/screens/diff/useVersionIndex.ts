//! The stored versions for the pickers of the Diff and Simulator screens, loaded once per
//! screen from `api.bundleIndex()` (newest first), with its loading and error state.

import { useCallback, useEffect, useState } from "react";
import { api } from "../../api";
import type { VersionRow } from "../../bindings/VersionRow";
import { type ErrorLike, toErrorLike } from "../../errors";

export interface VersionIndexState {
  versions: VersionRow[] | null;
  error: ErrorLike | null;
  loading: boolean;
  reload: () => Promise<void>;
}

export function useVersionIndex(): VersionIndexState {
  const [versions, setVersions] = useState<VersionRow[] | null>(null);
  const [error, setError] = useState<ErrorLike | null>(null);
  const [loading, setLoading] = useState(true);

  const reload = useCallback(async () => {
    setLoading(true);
    try {
      setVersions((await api.bundleIndex()).versions);
      setError(null);
    } catch (e) {
      setError(toErrorLike(e));
    } finally {
      setLoading(false);
    }
  }, []);

  useEffect(() => {
    void reload();
  }, [reload]);

  return { versions, error, loading, reload };
}

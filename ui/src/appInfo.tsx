//! What the shell knows about the app at start (identities, environments, how many
//! versions), shared by the header, the editor's identity dialog and the screens.

import {
  createContext,
  type ReactNode,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useState,
} from "react";
import { api } from "./api";
import type { AppInfo } from "./bindings/AppInfo";
import { type ErrorLike, toErrorLike } from "./errors";

export interface AppInfoState {
  info: AppInfo | null;
  error: ErrorLike | null;
  loading: boolean;
  reload: () => Promise<void>;
}

const AppInfoContext = createContext<AppInfoState>({
  info: null,
  error: null,
  loading: true,
  reload: async () => {},
});

export function useAppInfo(): AppInfoState {
  return useContext(AppInfoContext);
}

export function AppInfoProvider({ children }: { children: ReactNode }) {
  const [info, setInfo] = useState<AppInfo | null>(null);
  const [error, setError] = useState<ErrorLike | null>(null);
  const [loading, setLoading] = useState(true);

  const reload = useCallback(async () => {
    setLoading(true);
    try {
      setInfo(await api.appInfo());
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

  const value = useMemo(() => ({ info, error, loading, reload }), [info, error, loading, reload]);
  return <AppInfoContext.Provider value={value}>{children}</AppInfoContext.Provider>;
}

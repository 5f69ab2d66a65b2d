// Refreshing the token pair once for every request that needs it at the same moment.
import { call, type Tokens } from "./beefirst";

/** Refreshes in flight, and just done, by the refresh token they spend. */
const refreshes = new Map<string, Promise<Tokens | null>>();

/** How long a finished refresh is remembered, ms: a request that left the browser with the old
 *  cookie before the new one arrived gets the same new pair instead of spending the old token
 *  again (which beefirst refuses, and after REFRESH_REUSE_GRACE_SECONDS treats as theft). */
const REMEMBER_MS = 10_000;

/** The new pair for `refreshToken`, or `null` when beefirst refused it (expired, revoked,
 *  spent). Parallel callers with the same token share one `POST /token/refresh`. */
export function refreshOnce(refreshToken: string): Promise<Tokens | null> {
  let refresh = refreshes.get(refreshToken);
  if (!refresh) {
    refresh = call<Tokens>("/token/refresh", { method: "POST", body: { refresh_token: refreshToken } })
      .then((answer) => (answer.ok ? answer.data : null));
    refreshes.set(refreshToken, refresh);
    refresh.finally(() => setTimeout(() => refreshes.delete(refreshToken), REMEMBER_MS));
  }
  return refresh;
}

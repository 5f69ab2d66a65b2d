// Refreshing the token pair once for every request that needs it at the same moment.
import { call, type Tokens } from "./beefirst";

/** A refresh's outcome: a new pair; refused (the session is over: expired, revoked, the token
 *  spent); or beefirst unavailable or busy (try again with the next request, keep the cookies). */
export type Refreshed = { tokens: Tokens } | "refused" | "unavailable";

/** Refreshes in flight, and recently successful ones, by the refresh token they spend. */
const refreshes = new Map<string, Promise<Refreshed>>();

/** How long a successful refresh is remembered, ms: a request that left the browser with the old
 *  cookie before the new one arrived gets the same new pair instead of spending the old token
 *  again (which beefirst refuses, and after REFRESH_REUSE_GRACE_SECONDS treats as theft). */
const REMEMBER_MS = 10_000;

/** The outcome of refreshing with `refreshToken`. Parallel callers with the same token share one
 *  `POST /token/refresh`. */
export function refreshOnce(refreshToken: string): Promise<Refreshed> {
  let refresh = refreshes.get(refreshToken);
  if (!refresh) {
    refresh = call<Tokens>("/token/refresh", { method: "POST", body: { refresh_token: refreshToken } }).then(
      (answer): Refreshed => {
        if (answer.ok) return { tokens: answer.data };
        return answer.status === 400 || answer.status === 401 ? "refused" : "unavailable";
      },
    );
    refreshes.set(refreshToken, refresh);
    refresh.then((outcome) => {
      const forget = () => refreshes.delete(refreshToken);
      if (typeof outcome === "object") setTimeout(forget, REMEMBER_MS);
      else forget(); // a failure is not remembered: the next request tries again
    });
  }
  return refresh;
}

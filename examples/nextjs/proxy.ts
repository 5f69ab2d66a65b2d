// Runs before every page: keeps the access token fresh, and sends signed-out people away from
// the pages that need a session. (Next.js 16 calls this file proxy.ts; earlier, middleware.ts.)
import { NextResponse, type NextRequest } from "next/server";
import { refreshOnce } from "./lib/refresh";
import { ACCESS, REFRESH, clearSession, remaining, tokenCookies } from "./lib/session";

/** Pages that need a signed-in user. */
const PROTECTED = ["/account", "/admin"];

export async function proxy(request: NextRequest) {
  const access = request.cookies.get(ACCESS)?.value;
  const refresh = request.cookies.get(REFRESH)?.value;
  const time = remaining(access);
  // Refresh when a quarter of the token's life (at most a minute) is left, or it is gone.
  const fresh = time !== null && time.left > Math.min(60, time.lifetime / 4);
  if (fresh || !refresh) return onward(request, fresh);

  const outcome = await refreshOnce(refresh);
  if (outcome === "unavailable") return onward(request, time !== null && time.left > 0);
  if (outcome === "refused") {
    // The session is over: this request renders signed out, and the browser forgets it.
    request.cookies.delete(ACCESS);
    request.cookies.delete(REFRESH);
    const response = onward(request, false);
    clearSession(response);
    return response;
  }
  // This request's server components read the new access token; the browser stores both.
  request.cookies.set(ACCESS, outcome.tokens.access_token);
  request.cookies.set(REFRESH, outcome.tokens.refresh_token);
  const response = NextResponse.next({ request: { headers: request.headers } });
  for (const [name, value, options] of tokenCookies(outcome.tokens)) response.cookies.set(name, value, options);
  return response;
}

function onward(request: NextRequest, signedIn: boolean): NextResponse {
  const path = request.nextUrl.pathname;
  if (!signedIn && PROTECTED.some((p) => path === p || path.startsWith(`${p}/`))) {
    const url = new URL("/signin", request.url);
    url.searchParams.set("next", path);
    return NextResponse.redirect(url);
  }
  return NextResponse.next({ request: { headers: request.headers } });
}

export const config = { matcher: ["/((?!_next/|favicon.ico).*)"] };

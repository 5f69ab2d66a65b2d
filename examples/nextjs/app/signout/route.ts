// POST: sign out (beefirst revokes the session). GET ?revoked=1: a page found the session
// already ended elsewhere. Both clear the cookies and go to the sign-in page.
import { NextResponse, type NextRequest } from "next/server";
import { call } from "../../lib/beefirst";
import { ACCESS, clearSession } from "../../lib/session";

function toSignIn(request: NextRequest, revoked: boolean) {
  const response = NextResponse.redirect(new URL(revoked ? "/signin?revoked=1" : "/signin", request.url), 303);
  clearSession(response);
  return response;
}

/** A request from this app's own pages (another site cannot sign people out). */
function fromThisApp(request: NextRequest): boolean {
  const site = request.headers.get("sec-fetch-site");
  if (site) return site === "same-origin";
  const origin = request.headers.get("origin");
  return origin !== null && new URL(origin).host === request.headers.get("host");
}

export async function POST(request: NextRequest) {
  if (!fromThisApp(request)) return new NextResponse("Forbidden", { status: 403 });
  const access = request.cookies.get(ACCESS)?.value;
  if (access) await call("/logout", { method: "POST", bearer: access });
  return toSignIn(request, false);
}

export async function GET(request: NextRequest) {
  // Only a session beefirst really refuses is forgotten: a link from elsewhere signs nobody out.
  const access = request.cookies.get(ACCESS)?.value;
  if (access && (await call("/verify", { bearer: access })).status !== 401) {
    return NextResponse.redirect(new URL("/account", request.url), 303);
  }
  return toSignIn(request, true);
}

// POST: sign out (beefirst revokes the session), GET ?revoked=1: the session had already ended
// elsewhere. Both clear the cookies and go to the sign-in page.
import { NextResponse, type NextRequest } from "next/server";
import { call } from "../../lib/beefirst";
import { ACCESS, REFRESH } from "../../lib/session";

function toSignIn(request: NextRequest, revoked: boolean) {
  const response = NextResponse.redirect(new URL(revoked ? "/signin?revoked=1" : "/signin", request.url), 303);
  response.cookies.delete(ACCESS);
  response.cookies.delete(REFRESH);
  return response;
}

export async function POST(request: NextRequest) {
  const access = request.cookies.get(ACCESS)?.value;
  if (access) await call("/logout", { method: "POST", bearer: access });
  return toSignIn(request, false);
}

export async function GET(request: NextRequest) {
  return toSignIn(request, request.nextUrl.searchParams.has("revoked"));
}

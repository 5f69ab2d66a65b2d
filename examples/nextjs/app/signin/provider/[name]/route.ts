// Starts a sign-in with another provider: a PKCE verifier kept in an HttpOnly cookie, its
// challenge sent to beefirst, and the browser sent to beefirst's authorize endpoint. beefirst
// talks to the provider and comes back to /signin/provider/done with a one-time login code.
import { createHash, randomBytes } from "node:crypto";
import { NextResponse, type NextRequest } from "next/server";
import { BEEFIRST_PUBLIC_URL } from "../../../../lib/beefirst";
import { PKCE, cookieOptions } from "../../../../lib/session";

export async function GET(request: NextRequest, { params }: { params: Promise<{ name: string }> }) {
  const { name } = await params;
  const verifier = randomBytes(32).toString("base64url");
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  const authorize = new URL(`${BEEFIRST_PUBLIC_URL}/idp/${encodeURIComponent(name)}/authorize`);
  // Where beefirst sends the browser back: APP_URL behind a proxy that changes the origin.
  const app = process.env.APP_URL ?? request.nextUrl.origin;
  authorize.searchParams.set("redirect_to", `${app}/signin/provider/done`);
  authorize.searchParams.set("code_challenge", challenge);
  const response = NextResponse.redirect(authorize, 303);
  response.cookies.set(PKCE, verifier, cookieOptions(600));
  return response;
}

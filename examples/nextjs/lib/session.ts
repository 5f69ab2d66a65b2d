// The session as the app keeps it: two HttpOnly cookies, and the checks of the access token.
import { createRemoteJWKSet, decodeJwt, jwtVerify, type JWTPayload } from "jose";
import { cookies } from "next/headers";
import { redirect } from "next/navigation";
import { BEEFIRST_URL, JWT_ISSUER, type Tokens } from "./beefirst";

/** The access token (a JWT, minutes) and the refresh token (opaque, single use). */
export const ACCESS = "bf_access";
export const REFRESH = "bf_refresh";
/** The PKCE verifier of a sign-in with another provider (ten minutes). */
export const PKCE = "bf_pkce";

/** How long the refresh cookie lives, seconds; beefirst ends the session itself (SESSION_TTL_SECONDS). */
const REFRESH_COOKIE_SECONDS = 30 * 24 * 3600;

/** HttpOnly: page scripts cannot read them. Secure: only over HTTPS (and http://localhost).
 *  SameSite=Lax: not sent with another site's POSTs or subrequests. */
export function cookieOptions(maxAge: number) {
  return { httpOnly: true, secure: true, sameSite: "lax" as const, path: "/", maxAge };
}

/** The cookies of a new token pair, as [name, value, options]. */
export function tokenCookies(tokens: Tokens) {
  return [
    [ACCESS, tokens.access_token, cookieOptions(tokens.expires_in)],
    [REFRESH, tokens.refresh_token, cookieOptions(REFRESH_COOKIE_SECONDS)],
  ] as const;
}

/** Clears the session's cookies on `response` (the same attributes they were set with). */
export function clearSession(response: { cookies: { set(name: string, value: string, options: object): unknown } }) {
  for (const name of [ACCESS, REFRESH]) response.cookies.set(name, "", cookieOptions(0));
}

/** beefirst's signing keys, fetched once and again when a token names a key not seen yet. */
const keys = createRemoteJWKSet(new URL(`${BEEFIRST_URL}/.well-known/jwks.json`));

export type Claims = JWTPayload & { sid?: string; role?: "user" | "admin"; amr?: string[] };

/** The claims of a valid access token: signature by one of beefirst's keys, EdDSA only, its
 *  issuer, not expired. `null` for anything else. It does not tell whether the session was
 *  revoked since; calls to beefirst (or its GET /verify) do. */
export async function verifyAccess(token: string | undefined): Promise<Claims | null> {
  if (!token) return null;
  try {
    const { payload } = await jwtVerify(token, keys, {
      issuer: JWT_ISSUER,
      algorithms: ["EdDSA"],
      requiredClaims: ["exp", "sub"],
    });
    return payload as Claims;
  } catch {
    return null;
  }
}

/** Seconds the access token has left, by its own claims (unverified: only to decide when to
 *  refresh), and its lifetime. */
export function remaining(token: string | undefined): { left: number; lifetime: number } | null {
  if (!token) return null;
  try {
    const { exp = 0, iat = 0 } = decodeJwt(token);
    return { left: exp - Date.now() / 1000, lifetime: exp - iat };
  } catch {
    return null;
  }
}

/** For a server component: the signed-in user's access token and claims, or a redirect to sign in. */
export async function requireUser(next: string): Promise<{ token: string; claims: Claims }> {
  const token = (await cookies()).get(ACCESS)?.value;
  const claims = await verifyAccess(token);
  if (!token || !claims) redirect(`/signin?next=${encodeURIComponent(next)}`);
  return { token, claims };
}

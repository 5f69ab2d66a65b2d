// The one place the app talks to beefirst: its base URL, a JSON call, and the shapes it answers.
// Server-side only (route handlers, server actions, server components and the proxy): the
// browser never talks to beefirst and never sees a token.

/** Where beefirst listens, as the app's server reaches it (may include a path prefix). */
export const BEEFIRST_URL = process.env.BEEFIRST_URL ?? "http://127.0.0.1:8080";
/** beefirst's `JWT_ISSUER`: access tokens with another `iss` are refused. */
export const JWT_ISSUER = process.env.BEEFIRST_JWT_ISSUER ?? "beefirst";
/** Where people reach beefirst's own web client (account deletion, passkeys, TOTP). */
export const BEEFIRST_PUBLIC_URL = process.env.BEEFIRST_PUBLIC_URL ?? BEEFIRST_URL;

/** A token pair (`POST /login`, `/login/code/verify`, `/login/mfa`, `/token/refresh`). */
export type Tokens = { access_token: string; refresh_token: string; expires_in: number };
/** `POST /login` with TOTP on: the second step's token. */
export type MfaRequired = { mfa_required: true; mfa_token: string; expires_in: number };
/** `GET /me`. */
export type Profile = {
  email: string;
  display_name: string | null;
  role: "user" | "admin";
  totp_enabled: boolean;
  created_at: string;
};

export type Answer<T> =
  | { ok: true; status: number; data: T }
  | { ok: false; status: number; error: string; message: string };

type Call = { method?: string; body?: unknown; bearer?: string; basic?: [string, string] };

/** One request to beefirst; its JSON answer or its error (`{"error","message"}`). */
export async function call<T>(path: string, { method = "GET", body, bearer, basic }: Call = {}): Promise<Answer<T>> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  if (basic) headers.authorization = `Basic ${Buffer.from(`${basic[0]}:${basic[1]}`).toString("base64")}`;
  let response: Response;
  try {
    response = await fetch(BEEFIRST_URL + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch {
    return { ok: false, status: 503, error: "unavailable", message: "beefirst cannot be reached." };
  }
  const text = await response.text();
  let json: Record<string, string> = {};
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    // not beefirst's JSON (a proxy's error page): only the status counts
  }
  if (response.ok) return { ok: true, status: response.status, data: json as T };
  return { ok: false, status: response.status, error: json.error ?? "unavailable", message: json.message ?? response.statusText };
}

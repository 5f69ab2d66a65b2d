"use server";
// Signing in: by password, or by a code mailed to the address; with TOTP on, a second step.
// A token pair becomes two HttpOnly cookies here; the browser never holds a token in script.
import { cookies } from "next/headers";
import { call, type MfaRequired, type Tokens } from "../../lib/beefirst";
import { PKCE, tokenCookies } from "../../lib/session";

export type SignIn = { ok: true } | { ok: false; mfaToken: string } | { ok: false; message: string };

async function keep(answer: Awaited<ReturnType<typeof call<Tokens | MfaRequired>>>): Promise<SignIn> {
  if (!answer.ok) return { ok: false, message: answer.message };
  if ("mfa_required" in answer.data) return { ok: false, mfaToken: answer.data.mfa_token };
  const jar = await cookies();
  for (const [name, value, options] of tokenCookies(answer.data)) jar.set(name, value, options);
  return { ok: true };
}

export async function withPassword(email: string, password: string): Promise<SignIn> {
  return keep(await call<Tokens | MfaRequired>("/login", { method: "POST", body: { email, password } }));
}

export async function mailCode(email: string): Promise<void> {
  await call("/login/code", { method: "POST", body: { email } });
}

export async function withCode(email: string, code: string): Promise<SignIn> {
  return keep(await call<Tokens | MfaRequired>("/login/code/verify", { method: "POST", body: { email, code } }));
}

export async function secondFactor(mfaToken: string, code: string): Promise<SignIn> {
  return keep(await call<Tokens | MfaRequired>("/login/mfa", { method: "POST", body: { mfa_token: mfaToken, code } }));
}

/** Starts a passkey sign-in: the options for `navigator.credentials.get` (no account named:
 *  the passkey says whose it is) and the ceremony they belong to. */
export async function passkeyOptions(): Promise<{ ceremony: string; publicKey: unknown } | null> {
  const answer = await call<{ ceremony: string; publicKey: unknown }>("/login/passkey/options", { method: "POST", body: {} });
  return answer.ok ? answer.data : null;
}

export async function withPasskey(ceremony: string, credential: unknown): Promise<SignIn> {
  return keep(await call<Tokens | MfaRequired>("/login/passkey", { method: "POST", body: { ceremony, credential } }));
}

/** Exchanges the login code beefirst sent back from a provider, with this browser's PKCE verifier. */
export async function withLoginCode(loginCode: string): Promise<SignIn> {
  const jar = await cookies();
  const verifier = jar.get(PKCE)?.value;
  jar.delete(PKCE);
  // No verifier: this browser did not start this sign-in (a code planted from someone else's).
  if (!verifier) return { ok: false, message: "This sign-in was not started here. Try again." };
  return keep(await call<Tokens | MfaRequired>("/idp/exchange", { method: "POST", body: { login_code: loginCode, code_verifier: verifier } }));
}

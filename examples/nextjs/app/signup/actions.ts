"use server";
// Registration: claim the email with a password (beefirst mails a code), then activate with the
// code and the same email and password (HTTP Basic Auth) within the code's lifetime.
import { call } from "../../lib/beefirst";

export type Step = { ok: true; expiresIn?: number } | { ok: false; message: string };

export async function register(email: string, password: string): Promise<Step> {
  const answer = await call<{ expires_in: number }>("/register", { method: "POST", body: { email, password } });
  return answer.ok ? { ok: true, expiresIn: answer.data.expires_in } : { ok: false, message: answer.message };
}

export async function activate(email: string, password: string, code: string): Promise<Step> {
  const answer = await call("/activate", { method: "POST", body: { code }, basic: [email, password] });
  return answer.ok ? { ok: true } : { ok: false, message: answer.message };
}

"use server";
// Adding a passkey to the signed-in account: beefirst asks for the password first.
import { cookies } from "next/headers";
import { call } from "../../lib/beefirst";
import { ACCESS } from "../../lib/session";

export async function passkeyCreationOptions(password: string) {
  const bearer = (await cookies()).get(ACCESS)?.value;
  const answer = await call<{ ceremony: string; publicKey: unknown }>("/me/passkeys/options", { method: "POST", body: { password }, bearer });
  return answer.ok ? { ok: true as const, ...answer.data } : { ok: false as const, message: answer.message };
}

export async function addPasskey(ceremony: string, credential: unknown) {
  const bearer = (await cookies()).get(ACCESS)?.value;
  const answer = await call<{ name: string }>("/me/passkeys", { method: "POST", body: { ceremony, credential }, bearer });
  return answer.ok ? { ok: true as const, name: answer.data.name } : { ok: false as const, message: answer.message };
}

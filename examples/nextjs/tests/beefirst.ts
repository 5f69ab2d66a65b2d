// What the tests need from beefirst directly: the codes it mailed (its console mailer writes
// each mail as a JSON line to the log) and calls that set a scene (accounts, revocations).
import { execFileSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";

export const PASSWORD = "correct horse battery";

/** The code in the latest mail to `email`: the first run of digits of its text. */
export async function codeFor(email: string, after = 0): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const mails = readFileSync(process.env.BEEFIRST_TEST_LOG!, "utf8")
      .split("\n")
      .filter((line) => line.includes('"event":"mail"'))
      .map((line) => JSON.parse(line))
      .filter((mail) => mail.to === email);
    if (mails.length > after) return /\d+/.exec(mails[mails.length - 1].text)![0];
    if (Date.now() > deadline) throw new Error(`no mail to ${email}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The number of mails sent to `email` so far. */
export function mailsTo(email: string): number {
  return readFileSync(process.env.BEEFIRST_TEST_LOG!, "utf8")
    .split("\n")
    .filter((line) => line.includes('"event":"mail"') && line.includes(`"to":"${email}"`)).length;
}

export async function api(path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const response = await fetch(process.env.BEEFIRST_TEST_URL + path, {
    method: init.method ?? "GET",
    headers: { "content-type": "application/json", ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : {} };
}

/** An active account, made through beefirst's API. */
export async function activeAccount(email: string): Promise<void> {
  if ((await api("/register", { method: "POST", body: { email, password: PASSWORD } })).status !== 201) {
    throw new Error(`register ${email}`);
  }
  const code = await codeFor(email);
  const basic = `Basic ${Buffer.from(`${email}:${PASSWORD}`).toString("base64")}`;
  const activated = await api("/activate", { method: "POST", body: { code }, headers: { authorization: basic } });
  if (activated.status !== 200) throw new Error(`activate ${email}: ${activated.status}`);
}

/** Makes `email` an administrator with beefirst's own command (`beefirst admin grant`). */
export function grantAdmin(email: string): void {
  execFileSync(process.env.BEEFIRST_TEST_BIN!, ["admin", "grant", email], {
    env: { PATH: process.env.PATH, NODE_ENV: "production", DATABASE_URL: process.env.BEEFIRST_TEST_DATABASE_URL },
  });
}

/** The TOTP code of `secret` (base32) for 30-second step `step` (RFC 6238, what an authenticator
 *  app shows). */
export function totp(secret: string, step: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of secret.replace(/=+$/, "").toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g)!.map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const hash = createHmac("sha1", key).update(counter).digest();
  const offset = hash[hash.length - 1] & 0xf;
  return String((hash.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}

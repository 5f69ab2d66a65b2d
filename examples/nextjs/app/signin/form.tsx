"use client";
import { useRouter, useSearchParams } from "next/navigation";
import { Suspense, useState, type FormEvent } from "react";
import { signWithPasskey } from "../passkeys";
import { mailCode, passkeyOptions, secondFactor, withCode, withPasskey, withPassword, type SignIn } from "./actions";

/** `next` if it is a path of this app (not `//elsewhere.example`, `/\elsewhere`, `https://…`),
 *  else the account page: no open redirect after signing in. */
function sameOriginPath(next: string | null): string {
  if (!next) return "/account";
  try {
    const url = new URL(next, window.location.origin);
    return url.origin === window.location.origin ? url.pathname + url.search : "/account";
  } catch {
    return "/account";
  }
}

function SignInForm({ providers }: { providers: string[] }) {
  const router = useRouter();
  const params = useSearchParams();
  const next = params.get("next");
  const [email, setEmail] = useState("");
  const [mode, setMode] = useState<"password" | "code" | "mfa">("password");
  const [mfaToken, setMfaToken] = useState("");
  const [message, setMessage] = useState(params.get("revoked") ? "Your session ended. Sign in again." : "");

  function after(result: SignIn) {
    if (result.ok) router.push(sameOriginPath(next));
    else if ("mfaToken" in result) {
      setMfaToken(result.mfaToken);
      setMode("mfa");
      setMessage("Enter the code from your authenticator app.");
    } else setMessage(result.message);
  }

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const field = (name: string) => String(form.get(name) ?? "");
    if (mode === "password") after(await withPassword(email, field("password")));
    else if (mode === "code") after(await withCode(email, field("code")));
    else after(await secondFactor(mfaToken, field("code")));
  }

  async function signInWithPasskey() {
    const options = await passkeyOptions();
    if (!options) return setMessage("beefirst cannot start a passkey sign-in now.");
    const used = await signWithPasskey(options.publicKey);
    if ("problem" in used) return setMessage(used.problem);
    after(await withPasskey(options.ceremony, used.credential));
  }

  async function emailMeACode() {
    await mailCode(email);
    setMode("code");
    setMessage(`If ${email} has an account, a sign-in code is on its way.`);
  }

  return (
    <main>
      <h1>Sign in</h1>
      <form onSubmit={submit}>
        {mode !== "mfa" && (
          <label>Email <input name="email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} required /></label>
        )}
        {mode === "password" ? (
          <label>Password <input name="password" type="password" required /></label>
        ) : (
          <label>Code <input name="code" inputMode="numeric" autoComplete="one-time-code" required /></label>
        )}
        <button type="submit">Sign in</button>
      </form>
      {mode === "password" && (
        <button type="button" onClick={emailMeACode} disabled={!email}>Email me a code instead</button>
      )}
      {mode !== "mfa" && (
        <button type="button" onClick={signInWithPasskey}>Sign in with a passkey</button>
      )}
      {mode !== "mfa" &&
        providers.map((name) => (
          <p key={name}>
            <a href={`/signin/provider/${encodeURIComponent(name)}`}>Continue with {name}</a>
          </p>
        ))}
      <p id="message" role="status">{message}</p>
    </main>
  );
}

/** The sign-in form with a button for each of beefirst's identity providers. */
export function SignIn({ providers }: { providers: string[] }) {
  return (
    <Suspense>
      <SignInForm providers={providers} />
    </Suspense>
  );
}

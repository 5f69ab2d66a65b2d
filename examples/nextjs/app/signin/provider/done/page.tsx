"use client";
// beefirst sends the browser here with #login_code=… (or #error=…). The fragment never reaches a
// server or a log; the page hands the code to a server action, which exchanges it (with the
// PKCE verifier from its cookie) for the token pair; with TOTP on, the second factor follows.
import { useRouter } from "next/navigation";
import { useEffect, useRef, useState, type FormEvent } from "react";
import { secondFactor, withLoginCode, type SignIn } from "../../actions";

export default function ProviderDone() {
  const router = useRouter();
  const started = useRef(false);
  const [message, setMessage] = useState("Signing you in…");
  const [mfaToken, setMfaToken] = useState("");

  function after(result: SignIn) {
    if (result.ok) router.push("/account");
    else if ("mfaToken" in result) {
      setMfaToken(result.mfaToken);
      setMessage("Enter the code from your authenticator app.");
    } else setMessage(result.message);
  }

  useEffect(() => {
    if (started.current) return; // once, also when React runs effects twice in development
    started.current = true;
    const fragment = new URLSearchParams(window.location.hash.slice(1));
    history.replaceState(null, "", window.location.pathname);
    const code = fragment.get("login_code");
    if (!code) return setMessage(`The provider sign-in did not work (${fragment.get("error") ?? "no code"}).`);
    withLoginCode(code).then(after);
  });

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    after(await secondFactor(mfaToken, String(new FormData(event.currentTarget).get("code") ?? "")));
  }

  return (
    <main>
      <h1>Sign in</h1>
      {mfaToken && (
        <form onSubmit={submit}>
          <label>Code <input name="code" inputMode="numeric" autoComplete="one-time-code" required /></label>
          <button type="submit">Sign in</button>
        </form>
      )}
      <p id="message" role="status">{message}</p>
    </main>
  );
}

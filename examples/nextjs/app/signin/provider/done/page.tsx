"use client";
// beefirst sends the browser here with #login_code=… (or #error=…). The fragment never reaches a
// server or a log; the page hands the code to a server action, which exchanges it (with the
// PKCE verifier from its cookie) for the token pair.
import { useRouter } from "next/navigation";
import { useEffect, useState } from "react";
import { withLoginCode } from "../../actions";

export default function ProviderDone() {
  const router = useRouter();
  const [message, setMessage] = useState("Signing you in…");
  useEffect(() => {
    const fragment = new URLSearchParams(window.location.hash.slice(1));
    history.replaceState(null, "", window.location.pathname);
    const code = fragment.get("login_code");
    if (!code) return setMessage(`The provider sign-in did not work (${fragment.get("error") ?? "no code"}).`);
    withLoginCode(code).then((result) => {
      if (result.ok) router.push("/account");
      else setMessage("message" in result ? result.message : "Finish signing in with your second factor on the sign-in page.");
    });
  }, [router]);
  return (
    <main>
      <h1>Sign in</h1>
      <p id="message" role="status">{message}</p>
    </main>
  );
}

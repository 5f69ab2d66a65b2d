"use client";
import { useState, type FormEvent } from "react";
import { activate, register } from "./actions";

export default function SignUp() {
  const [step, setStep] = useState<"claim" | "code" | "done">("claim");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [message, setMessage] = useState("");

  async function claim(event: FormEvent) {
    event.preventDefault();
    const result = await register(email, password);
    if (result.ok) {
      setStep("code");
      setMessage(`We mailed a code to ${email}. It expires in ${result.expiresIn} seconds.`);
    } else setMessage(result.message);
  }

  async function confirm(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const code = String(new FormData(event.currentTarget).get("code") ?? "");
    const result = await activate(email, password, code);
    if (result.ok) setStep("done");
    setMessage(result.ok ? "" : result.message);
  }

  return (
    <main>
      <h1>Sign up</h1>
      {step === "claim" && (
        <form onSubmit={claim}>
          <label>Email <input name="email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} required /></label>
          <label>Password <input name="password" type="password" value={password} onChange={(e) => setPassword(e.target.value)} required minLength={8} /></label>
          <button type="submit">Sign up</button>
        </form>
      )}
      {step === "code" && (
        <form onSubmit={confirm}>
          <label>Code <input name="code" inputMode="numeric" autoComplete="one-time-code" required /></label>
          <button type="submit">Activate</button>
        </form>
      )}
      {step === "done" && (
        <p id="activated">
          Your account is active. <a href="/signin">Sign in</a>
        </p>
      )}
      <p id="message" role="status">{message}</p>
    </main>
  );
}

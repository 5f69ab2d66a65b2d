"use client";
import { useState, type FormEvent } from "react";
import { makePasskey } from "../passkeys";
import { addPasskey, passkeyCreationOptions } from "./actions";

export function AddPasskey() {
  const [message, setMessage] = useState("");

  async function add(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = event.currentTarget;
    const options = await passkeyCreationOptions(String(new FormData(form).get("password") ?? ""));
    if (!options.ok) return setMessage(options.message);
    const made = await makePasskey(options.publicKey);
    if ("problem" in made) return setMessage(made.problem);
    const added = await addPasskey(options.ceremony, made.credential);
    setMessage(added.ok ? `Your passkey "${added.name}" is ready: next time, sign in with it.` : added.message);
    form.reset();
  }

  return (
    <form onSubmit={add}>
      <label>Password for a new passkey <input name="password" type="password" required /></label>
      <button type="submit">Add a passkey</button>
      <p id="passkey-message" role="status">{message}</p>
    </form>
  );
}

// The browser's half of a passkey ceremony: beefirst sends options and takes the answer in
// WebAuthn's JSON forms, which current browsers convert themselves.
type Json = Record<string, unknown>;
type WithJson = typeof PublicKeyCredential & {
  parseCreationOptionsFromJSON(json: Json): PublicKeyCredentialCreationOptions;
  parseRequestOptionsFromJSON(json: Json): PublicKeyCredentialRequestOptions;
};

/** Signs with a passkey of this device for `options`; the credential as JSON, or why not. */
export async function signWithPasskey(options: unknown): Promise<{ credential: Json } | { problem: string }> {
  try {
    const publicKey = (PublicKeyCredential as WithJson).parseRequestOptionsFromJSON(options as Json);
    const credential = (await navigator.credentials.get({ publicKey })) as PublicKeyCredential;
    return { credential: credential.toJSON() as Json };
  } catch (error) {
    return { problem: problem(error) };
  }
}

/** Makes a passkey on this device for `options`; the credential as JSON, or why not. */
export async function makePasskey(options: unknown): Promise<{ credential: Json } | { problem: string }> {
  try {
    const publicKey = (PublicKeyCredential as WithJson).parseCreationOptionsFromJSON(options as Json);
    const credential = (await navigator.credentials.create({ publicKey })) as PublicKeyCredential;
    return { credential: credential.toJSON() as Json };
  } catch (error) {
    return { problem: problem(error) };
  }
}

function problem(error: unknown): string {
  const name = error instanceof Error ? error.name : "";
  if (name === "NotAllowedError") return "No passkey was used: it was cancelled or took too long.";
  if (name === "InvalidStateError") return "This device already holds a passkey for your account.";
  if (name === "SecurityError") return "Passkeys cannot be used on this address (beefirst's WEBAUTHN_ORIGINS).";
  return `The passkey could not be used (${name || String(error)}).`;
}

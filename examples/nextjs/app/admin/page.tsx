import { redirect } from "next/navigation";
import { call } from "../../lib/beefirst";
import { requireUser } from "../../lib/session";

export const dynamic = "force-dynamic";

type Users = { users: { id: number; email: string; role: string; status: string }[] };

// Administrators only: the verified token's `role` claim decides what is shown, and beefirst
// checks it again on its own admin API (a role changed since the token was issued counts there).
export default async function Admin() {
  const { token, claims } = await requireUser("/admin");
  if (claims.role !== "admin") {
    return (
      <main>
        <h1>Administrators only</h1>
        <p id="forbidden">Your account is not an administrator.</p>
      </main>
    );
  }
  const users = await call<Users>("/admin/users?limit=10", { bearer: token });
  if (!users.ok && users.status === 401) redirect("/signout?revoked=1");
  if (!users.ok) return <main><h1>Administrators only</h1><p id="forbidden">{users.message}</p></main>;
  return (
    <main>
      <h1>Accounts</h1>
      <ul id="users">
        {users.data.users.map((u) => (
          <li key={u.id}>{u.email} ({u.role}, {u.status})</li>
        ))}
      </ul>
    </main>
  );
}

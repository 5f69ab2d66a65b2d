"""The soak's virtual users and its administrator: every endpoint family at a steady rate, each
acknowledged write put in the ledger with the webhook event it implies."""
import random, time, urllib.parse
from endpoints import totp_code as totp   # bench/ is on the path of every script that imports this

PASSWORD = "correct horse battery"


class Account:
    """One virtual user's account, as far as its answers told: email, password, TOTP secret."""
    def __init__(self, client, ledger, email, password=PASSWORD):
        self.client, self.ledger = client, ledger
        self.email, self.password = email, password
        self.secret, self.last_step = None, 0

    def write(self, method, path, body=None, token=None, basic=None, also=()):
        """A write, retried on 503; no answer (or a 5xx that is not 503) leaves the account
        uncertain: it may or may not have happened (the run fails on those answers anyway)."""
        status, data = self.client.until_answered(method, path, body, token, basic)
        if status == 0 or (status >= 500 and status != 503):
            with self.ledger.lock:
                self.ledger.uncertain.update((self.email, *also))
        return status, data

    def activate(self):
        """Registers, reads the code from the mail, activates: True once acknowledged."""
        before = self.ledger.mail_count(self.email)
        status, _ = self.write("POST", "/register", {"email": self.email, "password": self.password})
        code = self.ledger.code(self.email, before) if status == 201 else None
        if code is None:
            return False
        status, _ = self.write("POST", "/activate", {"code": code}, basic=f"{self.email}:{self.password}")
        if status != 200:
            return False
        self.ledger.acknowledged(self.email, "user.created", password=self.password, state="active")
        return True

    def sign_in(self, by_code=False):
        """A session by password or by a mailed code, then TOTP when it is on: (access, refresh)."""
        if by_code:
            before = self.ledger.mail_count(self.email)
            status, _ = self.client.until_answered("POST", "/login/code", {"email": self.email})
            code = self.ledger.code(self.email, before) if status == 202 else None
            if code is None:
                return None, None
            status, tokens = self.client.until_answered("POST", "/login/code/verify",
                                                        {"email": self.email, "code": code})
        else:
            status, tokens = self.client.until_answered("POST", "/login",
                                                        {"email": self.email, "password": self.password})
        if status == 200 and tokens.get("mfa_required"):
            if self.secret is None:   # TOTP went on although its confirmation was not acknowledged
                with self.ledger.lock:
                    self.ledger.uncertain.add(self.email)
                return None, None
            status, tokens = self.client.until_answered("POST", "/login/mfa", {
                "mfa_token": tokens["mfa_token"], "code": totp(self.secret, self.fresh_step())})
        if status != 200:
            return None, None
        return tokens["access_token"], tokens["refresh_token"]

    def fresh_step(self):
        """A TOTP step not used yet (a code is accepted once): waits for the next one if needed."""
        step = int(time.time() // 30)
        if step <= self.last_step:
            time.sleep((self.last_step + 1) * 30 - time.time() + 0.2)
            step = self.last_step + 1
        self.last_step = step
        return step

    def turn_on_totp(self, token):
        status, enrolment = self.write("POST", "/me/totp", {"password": self.password}, token=token)
        if status != 200:
            return
        secret = enrolment["secret"]
        self.secret = secret   # fresh_step below must see the secret's first use
        status, _ = self.write("POST", "/me/totp/confirm", {"code": totp(secret, self.fresh_step())}, token=token)
        if status == 200:
            self.ledger.acknowledged(self.email, "user.mfa_changed")
        else:
            self.secret = None

    def change_password(self, token, new):
        status, _ = self.write("POST", "/me/password",
                               {"current_password": self.password, "new_password": new}, token=token)
        if status == 204:
            self.password = new
            self.ledger.acknowledged(self.email, "user.password_changed", password=new)

    def change_email(self, token, new):
        before = self.ledger.mail_count(new)
        status, _ = self.write("POST", "/me/email", {"new_email": new, "password": self.password}, token=token)
        code = self.ledger.code(new, before) if status == 202 else None
        if code is None:
            return
        status, _ = self.write("POST", "/me/email/confirm", {"code": code}, token=token, also=(new,))
        if status == 200:
            self.ledger.moved(self.email, new)
            self.email = new

    def delete(self):
        token, _ = self.sign_in()
        if token is None:
            return False
        status, _ = self.write("DELETE", "/me", {"password": self.password}, token=token)
        if status == 204:
            self.ledger.acknowledged(self.email, "user.deleted", state="deleted")
        return status == 204


def virtual_user(client, ledger, stop, rate, number):
    """Registers and activates; a few rounds of signing in (password, mailed code, TOTP), reading,
    changing the profile, refreshing, sometimes the password or the email; then deletes the
    account (3 in 10) or leaves it to the administrator, and starts over."""
    pause, n = 1.0 / rate, 0
    while not stop.is_set():
        n += 1
        account = Account(client, ledger, f"u{number}-{n}@soak.example")
        if not account.activate():
            time.sleep(pause)
            continue
        wants_totp = random.random() < 0.2
        for round in range(random.randint(3, 8)):
            if stop.wait(pause):
                return
            token, refresh = account.sign_in(by_code=random.random() < 0.25)
            if token is None:
                continue
            if wants_totp and account.secret is None:
                account.turn_on_totp(token)
            client.call("GET", "/me", token=token)
            status, _ = account.write("PATCH", "/me", {"display_name": f"n{round}"}, token=token)
            if status == 200:
                ledger.acknowledged(account.email, "user.updated")
            status, tokens = client.call("POST", "/token/refresh", {"refresh_token": refresh})
            if status == 200:
                token = tokens["access_token"]
            if random.random() < 0.15:
                account.change_password(token, f"{PASSWORD} {round}")
            if random.random() < 0.08:
                account.change_email(token, f"u{number}-{n}-m{round}@soak.example")
            client.call("POST", "/logout", token=token)
        if random.random() >= 0.3 or not account.delete():
            with ledger.lock:
                ledger.retired.append(account.email)


def administrator(client, ledger, stop, admin, every):
    """Every `every` seconds one administrator action: an account the virtual users are done with
    disabled (6 in 10) or deleted (2 in 10), or a disabled one enabled again (2 in 10)."""
    disabled = []
    actions = {"enable": ("POST", "/enable", 204, "user.enabled", "active"),
               "disable": ("POST", "/disable", 204, "user.disabled", "disabled"),
               "delete": ("DELETE", "", 204, "user.deleted", "deleted")}
    while not stop.wait(every):
        roll = random.random()
        with ledger.lock:
            if roll < 0.2 and disabled:
                email, action = disabled.pop(0), "enable"
            elif ledger.retired:
                email = ledger.retired.pop(random.randrange(len(ledger.retired)))
                action = "disable" if roll < 0.8 else "delete"
            else:
                continue
        token, _ = admin.sign_in()
        status, found = client.call("GET", f"/admin/users?email_prefix={urllib.parse.quote(email)}&limit=10",
                                    token=token) if token else (0, {})
        ids = [u["id"] for u in found.get("users", []) if u["email"] == email] if status == 200 else []
        if not ids:
            continue
        method, suffix, ok, event, state = actions[action]
        status, _ = Account(client, ledger, email).write(method, f"/admin/users/{ids[0]}{suffix}", token=token)
        if status == ok:
            ledger.acknowledged(email, event, state=state)
            if action == "disable":
                disabled.append(email)

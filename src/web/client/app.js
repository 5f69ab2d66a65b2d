// The beefirst web client: plain JavaScript, no build step, nothing fetched from elsewhere.
// The access token lives in memory only; the refresh token in sessionStorage (this tab only, gone
// when it closes), so a reload keeps you signed in. See README, "The web client".

const $ = (selector, root = document) => root.querySelector(selector);
const API = (new URLSearchParams(location.search).get('api') || '').replace(/\/+$/, '');
const state = { access: null, accessExpiry: 0, refreshTimer: 0, email: '', password: '', mfaToken: '', countdown: 0, usersAfter: null };

// Which field an error code belongs to, so its message appears next to that field.
const FIELD_OF = {
  invalid_email: ['email', 'new_email'], email_taken: ['email', 'new_email'], same_email: ['new_email'],
  invalid_password: ['password', 'new_password'], wrong_password: ['password', 'current_password'],
  invalid_credentials: ['password'], invalid_display_name: ['display_name'],
  invalid_code_format: ['code'], wrong_code: ['code'], invalid_code: ['code'], invalid_name: ['name'],
};

// The API's messages are written for developers; a few are said differently to people.
function human(data) {
  const { error, message = '' } = data;
  if (error === 'invalid_password' && message.includes('at least')) return 'Use at least 8 characters.';
  if (error === 'invalid_password' && message.includes('at most')) return 'That password is too long: use at most 72 characters (fewer with accents or emoji).';
  if (error === 'invalid_code' && message.includes('mfa_token')) return 'The code is wrong, or this sign-in took too long. Sign in again if in doubt.';
  if (error === 'no_pending_change') return 'No change of email is waiting: ask for one first.';
  if (error === 'no_pending_totp') return 'Start again: turn on two-factor authentication first.';
  if (error === 'attempts_exhausted' && message.includes('/me/totp')) return 'Too many wrong codes: start again.';
  if (error === 'invalid_token') return 'Your session has ended. Please sign in again.';
  if (error === 'invalid_credential' && message.includes('passkey could not be verified')) return 'The passkey could not be added. Try again.';
  if (error === 'invalid_credential' && message.includes('passkey')) return 'That passkey did not work here. Try again, or sign in another way.';
  return message.replace(/ \((GET|POST|PATCH|DELETE) \/[^)]*\)/g, '');
}

// "Chrome on Linux" from a User-Agent header (what the service's own passkey names use).
function deviceName(agent) {
  if (!agent) return 'Unknown device';
  const find = (pairs) => (pairs.find(([token]) => agent.includes(token)) || [])[1];
  const browser = find([['Edg/', 'Edge'], ['OPR/', 'Opera'], ['Firefox/', 'Firefox'], ['Chrome/', 'Chrome'], ['Safari/', 'Safari'], ['curl/', 'curl']]);
  const system = find([['Android', 'Android'], ['iPhone', 'iPhone'], ['iPad', 'iPad'], ['Mac OS X', 'macOS'], ['Windows', 'Windows'], ['CrOS', 'ChromeOS'], ['Linux', 'Linux']]);
  if (browser && system) return `${browser} on ${system}`;
  return browser || system || agent.slice(0, 40);
}

function base64(text) {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
}

// A request with the current access token that comes back 401 is tried once more after a
// refresh (the token may have expired while the tab slept).
async function call(method, path, options = {}) {
  const result = await send(method, path, options);
  const usedToken = !options.basic && options.token === undefined && state.access;
  if (result.status === 401 && usedToken && result.data.error === 'invalid_token' && await refresh()) {
    return send(method, path, options);
  }
  return result;
}

async function send(method, path, { body, token = state.access, basic } = {}) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (basic) headers.Authorization = 'Basic ' + base64(`${basic.email}:${basic.password}`);
  else if (token) headers.Authorization = 'Bearer ' + token;
  let response;
  try {
    response = await fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    return { status: 0, retryAfter: 5, data: { error: 'network', message: 'The service cannot be reached. Check your connection and try again.' } };
  }
  const text = response.status === 204 ? '' : await response.text();
  let data = {};
  try { data = text ? JSON.parse(text) : {}; } catch { data = { error: 'unexpected', message: 'The service gave an unexpected answer.' }; }
  return { status: response.status, data, retryAfter: Number(response.headers.get('Retry-After')) || 0 };
}

function say(message) { $('#status').textContent = message; }

function show(name) {
  for (const section of document.querySelectorAll('main > section')) section.hidden = section.id !== `view-${name}`;
  const heading = $(`#view-${name} h2`);
  heading.tabIndex = -1;
  heading.focus();
  const signedIn = Boolean(state.access);
  $('#signout').hidden = !signedIn;
  $('#nav-account').hidden = !signedIn || name === 'account';
}

function values(form) {
  const out = {};
  for (const input of form.querySelectorAll('input[name]')) out[input.name] = input.value;
  return out;
}

function clearErrors(form) {
  form.querySelector('.form-error').textContent = '';
  const ok = form.querySelector('.form-ok');
  if (ok) ok.textContent = '';
  for (const note of form.querySelectorAll('.field-error')) note.remove();
  for (const input of form.querySelectorAll('[aria-invalid]')) {
    input.removeAttribute('aria-invalid');
    input.removeAttribute('aria-describedby');
  }
}

// A success, said next to the form that caused it.
function done(form, message) {
  form.querySelector('.form-ok').textContent = message;
}

// A problem found in the page itself (not an answer of the service), shown like one.
function local(message) {
  return { status: 400, data: { error: 'local', message } };
}

function showError(form, result) {
  const { error } = result.data;
  let message = human(result.data);
  if (result.data.attempts_remaining) {
    const left = result.data.attempts_remaining;
    message += ` ${left} ${left === 1 ? 'attempt' : 'attempts'} left.`;
  }
  const field = (FIELD_OF[error] || []).map((name) => form.elements[name]).find(Boolean);
  if (field) {
    const note = document.createElement('p');
    note.className = 'field-error';
    note.id = `${field.id}-error`;
    note.textContent = message;
    (field.closest('.password-field') || field).after(note);
    field.setAttribute('aria-invalid', 'true');
    field.setAttribute('aria-describedby', note.id);
    field.focus();
  } else {
    form.querySelector('.form-error').textContent = message || 'Something went wrong.';
  }
  if (result.retryAfter && [0, 429, 503].includes(result.status)) waitToRetry(form, result.retryAfter);
}

// Honours Retry-After: the submit button counts down and comes back.
function waitToRetry(form, seconds) {
  countDown(form.querySelector('button[type=submit]'), seconds);
}

function countDown(button, seconds) {
  const label = button.dataset.label || button.textContent;
  button.dataset.label = label;
  button.dataset.waiting = 'yes';
  button.disabled = true;
  let left = seconds;
  const tick = () => {
    if (left <= 0) {
      clearInterval(timer);
      delete button.dataset.waiting;
      button.disabled = false;
      button.textContent = label;
      return;
    }
    button.textContent = left > 90 ? `Try again in ${Math.ceil(left / 60)} min` : `Try again in ${left} s`;
    left -= 1;
  };
  const timer = setInterval(tick, 1000);
  tick();
}

// A form's submit runs `handler`; an error answer is shown next to its field. Nothing typed is
// cleared on failure.
function onSubmit(id, handler) {
  const form = $(`#${id}`);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = form.querySelector('button[type=submit]');
    if (button.disabled) return;
    clearErrors(form);
    say('');
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    try {
      const result = await handler(form, values(form));
      if (result && (result.status === 0 || result.status >= 400)) showError(form, result);
    } finally {
      button.removeAttribute('aria-busy');
      if (!button.dataset.waiting) button.disabled = false;
    }
  });
}

function setTokens(data) {
  state.access = data.access_token;
  state.accessExpiry = Date.now() + data.expires_in * 1000;
  sessionStorage.setItem('beefirst.refresh', data.refresh_token);
  schedule(Math.max(5, data.expires_in - 60));
}

function schedule(seconds) {
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(refresh, seconds * 1000);
}

// Exchanges the refresh token for a new pair. A refused token ends the session; anything else
// (429, 503, no network) is tried again after Retry-After or 10 s.
async function refresh() {
  const token = sessionStorage.getItem('beefirst.refresh');
  if (!token) return false;
  const result = await send('POST', '/token/refresh', { body: { refresh_token: token }, token: null });
  if (result.status === 200) { setTokens(result.data); return true; }
  if (result.status === 401) signedOut('Your session has ended. Please sign in again.');
  else schedule(result.retryAfter || 10);
  return false;
}

// A tab that slept past its token's expiry refreshes as soon as it is looked at again.
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && state.access && Date.now() > state.accessExpiry - 30000) refresh();
});

// Leaves nothing of the account in the page for the next person at this computer.
function forgetAccount() {
  for (const form of document.querySelectorAll('form')) { form.reset(); clearErrors(form); }
  for (const toggle of document.querySelectorAll('.password-field button[aria-pressed=true]')) toggle.click();
  for (const id of ['recovery-codes', 'totp-qr', 'totp-secret', 'totp-copied', 'events', 'profile-email', 'profile-role', 'profile-created', 'totp-state', 'passkeys-message', 'sessions-message', 'totp-message', 'identities', 'identities-message', 'identity-links', 'providers-error', 'export-message']) {
    $(`#${id}`).replaceChildren();
  }
  for (const id of ['sessions', 'users', 'passkeys']) $(`#${id} tbody`).replaceChildren();
  for (const hint of document.querySelectorAll('.username-hint')) hint.value = '';
  $('#totp-link').href = '#security';
  for (const id of ['totp-enroll', 'totp-codes', 'form-email-confirm', 'form-reset', 'form-code-verify', 'nav-admin']) $(`#${id}`).hidden = true;
  Object.assign(state, { email: '', password: '', mfaToken: '', usersAfter: null });
}

function signedOut(message) {
  state.access = null;
  clearTimeout(state.refreshTimer);
  sessionStorage.removeItem('beefirst.refresh');
  forgetAccount();
  show('signin');
  say(message || '');
}

// --- registration ------------------------------------------------------------------------

function startCountdown(seconds) {
  clearInterval(state.countdown);
  const deadline = Date.now() + seconds * 1000;
  const tick = () => {
    const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    $('#countdown').textContent = left > 0
      ? `The code expires in ${left} s.`
      : 'The code has expired: ask for a new one, or register again.';
    if ([30, 10, 0].includes(left)) say(left ? `${left} seconds left to enter the code.` : 'The code has expired.');
    if (left === 0) clearInterval(state.countdown);
  };
  tick();
  state.countdown = setInterval(tick, 1000);
}

onSubmit('form-register', async (form, v) => {
  const result = await call('POST', '/register', { body: { email: v.email, password: v.password }, token: null });
  if (result.status !== 201) return result;
  Object.assign(state, { email: result.data.email, password: v.password });
  $('#activate-email').textContent = result.data.email;
  show('activate');
  startCountdown(result.data.expires_in);
});

onSubmit('form-activate', async (form, v) => {
  const result = await call('POST', '/activate', { body: { code: v.code.trim() }, basic: state });
  if (result.status !== 200) return result;
  clearInterval(state.countdown);
  $('#signin-email').value = state.email;
  state.password = '';
  show('signin');
  say('Your account is active. You can sign in now.');
});

$('#resend').addEventListener('click', async () => {
  const button = $('#resend');
  if (button.disabled) return;
  const form = $('#form-activate');
  clearErrors(form);
  button.disabled = true;
  const result = await call('POST', '/resend', { basic: state });
  button.disabled = false;
  if (result.status === 202) { startCountdown(result.data.expires_in); say('A new code is on its way.'); return; }
  form.querySelector('.form-error').textContent = result.data.message || 'Something went wrong.';
  if (result.retryAfter && [0, 429, 503].includes(result.status)) countDown(button, result.retryAfter);
});

// --- signing in ----------------------------------------------------------------------------

// A finished first step (password or mailed code): signed in, or on to the second factor.
async function signedIn(result) {
  if (result.data.mfa_required) { state.mfaToken = result.data.mfa_token; show('mfa'); return; }
  setTokens(result.data);
  for (const id of ['form-signin', 'form-code-ask', 'form-code-verify']) $(`#${id}`).reset();
  $('#form-code-verify').hidden = true;
  await loadAccount();
}

onSubmit('form-signin', async (form, v) => {
  const result = await call('POST', '/login', { body: { email: v.email, password: v.password }, token: null });
  if (result.status === 429 && (result.data.alternatives || []).includes('email_code')) {
    showError(form, result);
    offerCode(form, v.email);
    return;
  }
  if (result.status !== 200) return result;
  await signedIn(result);
});

// Too many failed sign-ins for this email (perhaps not yours): a mailed code still signs in.
function offerCode(form, email) {
  const button = Object.assign(document.createElement('button'), { type: 'button', className: 'link', textContent: 'Email me a sign-in code instead' });
  button.addEventListener('click', () => {
    $('#code-email').value = email;
    show('code');
    $('#form-code-ask').requestSubmit();
  });
  form.querySelector('.form-error').replaceChildren('Too many failed sign-ins for this email, perhaps not by you. You can still sign in with a code we mail to it. ', button);
}

onSubmit('form-code-ask', async (form, v) => {
  const result = await call('POST', '/login/code', { body: { email: v.email }, token: null });
  if (result.status !== 202) return result;
  $('#form-code-verify').hidden = false;
  $('#code-code').focus();
});

onSubmit('form-code-verify', async (form, v) => {
  const result = await call('POST', '/login/code/verify', { body: { email: $('#code-email').value, code: v.code.trim() }, token: null });
  if (result.status !== 200) return result;
  await signedIn(result);
});

onSubmit('form-mfa', async (form, v) => {
  const result = await call('POST', '/login/mfa', { body: { mfa_token: state.mfaToken, code: v.code.trim() }, token: null });
  if (result.status !== 200) return result;
  setTokens(result.data);
  form.reset();
  $('#form-signin').reset();
  await loadAccount();
});

onSubmit('form-forgot', async (form, v) => {
  const result = await call('POST', '/password/forgot', { body: { email: v.email }, token: null });
  if (result.status !== 202) return result;
  $('#form-reset').hidden = false;
  $('#reset-code').focus();
});

onSubmit('form-reset', async (form, v) => {
  const body = { email: $('#forgot-email').value, code: v.code.trim(), new_password: v.new_password };
  const result = await call('POST', '/password/reset', { body, token: null });
  if (result.status !== 204) return result;
  $('#signin-email').value = body.email;
  form.reset();
  form.hidden = true;
  show('signin');
  say('Your password was changed and every device signed out. Sign in with the new one.');
});

$('#signout').addEventListener('click', async () => {
  await call('POST', '/logout');
  signedOut('You are signed out.');
});

// --- the account ----------------------------------------------------------------------------

async function loadAccount() {
  const me = await call('GET', '/me');
  if (me.status === 401) return signedOut('Please sign in.');
  if (me.status !== 200) return say(me.data.message);
  const p = me.data;
  $('#profile-email').textContent = p.email;
  $('#profile-role').textContent = p.role;
  $('#profile-created').textContent = new Date(p.created_at).toLocaleString();
  $('#name').value = p.display_name || '';
  // Password managers save a password with the account it belongs to.
  for (const hint of document.querySelectorAll('.username-hint')) hint.value = p.email;
  showTotpState(p.totp_enabled, p.recovery_codes_left);
  showPasswordFields(p.password_set);
  $('#nav-admin').hidden = p.role !== 'admin';
  show('account');
  showTab(location.hash.slice(1));
  await Promise.all([loadSessions(), loadEvents(), loadPasskeys(), loadIdentities()]);
}

// An account without a password confirms changes with its recent sign-in: no password fields.
function showPasswordFields(set) {
  $('#form-password').hidden = !set;
  $('#no-password').hidden = set;
  for (const input of document.querySelectorAll('#view-account input[autocomplete=current-password]')) {
    const field = input.closest('.password-field') || input;
    field.hidden = !set;
    const label = document.querySelector(`label[for=${input.id}]`);
    if (label) label.hidden = !set;
  }
}

function showTotpState(on, left) {
  const state = $('#totp-state');
  state.className = '';
  if (!on) state.textContent = 'Off: signing in needs only the password (or a passkey).';
  else if (left > 3) state.textContent = `On: signing in with the password also needs a code from your app. ${left} recovery codes left.`;
  else {
    state.textContent = `On. Only ${left} recovery ${left === 1 ? 'code' : 'codes'} left: turn two-factor authentication off and on again for new ones.`;
    state.className = 'warning';
  }
  $('#form-totp').hidden = on;
  $('#form-totp-off').hidden = !on;
}

// The account's parts, each reachable by its address (#profile, #security, #devices, #activity).
const TABS = ['profile', 'security', 'devices', 'activity'];
function showTab(name) {
  const shown = TABS.includes(name) ? name : 'profile';
  for (const tab of TABS) {
    $(`#tab-${tab}`).hidden = tab !== shown;
    $(`[data-tab=${tab}]`).setAttribute('aria-current', tab === shown ? 'page' : 'false');
  }
}
window.addEventListener('hashchange', () => { if (!$('#view-account').hidden) showTab(location.hash.slice(1)); });

async function loadSessions() {
  const result = await call('GET', '/me/sessions');
  const body = $('#sessions tbody');
  body.replaceChildren();
  for (const s of result.data.sessions || []) {
    const row = body.insertRow();
    const device = deviceName(s.user_agent);
    cell(row, '', device + (s.current ? ' (this device)' : '')).title = s.user_agent || '';
    cell(row, 'Signed in', new Date(s.created_at).toLocaleString());
    cell(row, 'Last used', new Date(s.last_used_at).toLocaleString());
    const cell_ = row.insertCell();
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'small';
    button.textContent = s.current ? 'Sign out' : 'Sign this device out';
    button.setAttribute('aria-label', `${button.textContent}: ${device}, signed in ${new Date(s.created_at).toLocaleString()}`);
    button.addEventListener('click', async () => {
      if (s.current) { await call('POST', '/logout'); return signedOut('You are signed out.'); }
      const answer = await call('DELETE', `/me/sessions/${s.id}`);
      $('#sessions-message').textContent = answer.status === 204 ? `${device} is signed out.` : human(answer.data);
      await loadSessions();
    });
    cell_.append(button);
  }
}

// A table cell with its column's name for the phone layout (where the header row is hidden).
function cell(row, label, text) {
  const td = row.insertCell();
  if (label) td.dataset.label = label;
  td.textContent = text;
  return td;
}

// What each audit action means to the account's owner.
const ACTIONS = {
  login_succeeded: 'Signed in', login_failed: 'Failed sign-in', wrong_password: 'Wrong password given',
  logout: 'Signed out', password_changed: 'Password changed', password_reset: 'Password reset by mailed code',
  password_reset_requested: 'Password reset asked for', sign_in_code_requested: 'Sign-in code asked for',
  email_change_requested: 'Change of email asked for', email_changed: 'Email changed', totp_enabled: 'Two-factor authentication turned on',
  totp_disabled: 'Two-factor authentication turned off', recovery_code_used: 'Recovery code used', sessions_revoked: 'Devices signed out',
  passkey_added: 'Passkey added', passkey_removed: 'Passkey removed', passkey_used: 'Signed in with a passkey',
  passkey_counter_regressed: 'A copied passkey was refused', refresh_token_reused: 'A stolen session was ended',
  created_with_provider: 'Account created with another provider', identity_linked: 'Provider linked', identity_unlinked: 'Provider unlinked',
  activated: 'Account activated', registered: 'Account created', role_changed: 'Role changed',
  account_disabled: 'Account disabled', account_enabled: 'Account enabled', second_factor_warning_mailed: 'Warned by mail of wrong codes',
};

async function loadEvents() {
  const result = await call('GET', '/me/events?limit=10');
  const list = $('#events');
  list.replaceChildren();
  for (const e of result.data.events || []) {
    const item = document.createElement('li');
    item.textContent = `${new Date(e.at).toLocaleString()}: ${ACTIONS[e.action] || e.action.replaceAll('_', ' ')}`;
    list.append(item);
  }
}

$('#signout-others').addEventListener('click', async () => {
  const answer = await call('DELETE', '/me/sessions');
  $('#sessions-message').textContent = answer.status === 204 ? 'Every other device is signed out.' : human(answer.data);
  await loadSessions();
});

onSubmit('form-name', async (form, v) => {
  const result = await call('PATCH', '/me', { body: { display_name: v.display_name.trim() || null } });
  if (result.status !== 200) return result;
  done(form, 'Your display name is saved.');
});

onSubmit('form-password', async (form, v) => {
  const result = await call('POST', '/me/password', { body: v });
  if (result.status !== 204) return result;
  form.reset();
  done(form, 'Your password is changed, and every other device signed out.');
  await loadSessions();
});

onSubmit('form-email', async (form, v) => {
  const result = await call('POST', '/me/email', { body: v });
  if (result.status !== 202) return result;
  $('#form-email-confirm').hidden = false;
  $('#email-code').focus();
  done(form, `A code is on its way to ${result.data.pending_email}.`);
});

onSubmit('form-email-confirm', async (form, v) => {
  const result = await call('POST', '/me/email/confirm', { body: { code: v.code.trim() } });
  if (result.status !== 200) return result;
  form.reset();
  form.hidden = true;
  $('#form-email').reset();
  say(`Your email is now ${result.data.email}.`);
  await loadAccount();
});

onSubmit('form-totp', async (form, v) => {
  $('#totp-message').textContent = '';
  const result = await call('POST', '/me/totp', { body: v });
  if (result.status !== 200) return result;
  form.reset();
  form.hidden = true; // the steps below replace it until the code is confirmed
  $('#totp-secret').textContent = result.data.secret;
  $('#totp-link').href = result.data.otpauth_uri;
  const svg = new DOMParser().parseFromString(result.data.qr_svg, 'image/svg+xml').documentElement;
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', 'QR code of the key for your authenticator app');
  $('#totp-qr').replaceChildren(svg);
  $('#totp-enroll').hidden = false;
  $('#totp-code').focus();
});

onSubmit('form-totp-confirm', async (form, v) => {
  const result = await call('POST', '/me/totp/confirm', { body: { code: v.code.trim() } });
  if (result.status !== 200) return result;
  form.reset();
  $('#totp-enroll').hidden = true;
  const list = $('#recovery-codes');
  list.replaceChildren(...result.data.recovery_codes.map((code) => Object.assign(document.createElement('li'), { textContent: code })));
  $('#totp-codes').hidden = false;
  showTotpState(true, result.data.recovery_codes.length);
  $('#totp-message').textContent = 'Two-factor authentication is on.';
});

onSubmit('form-totp-off', async (form, v) => {
  const result = await call('DELETE', '/me/totp', { body: { password: v.password, code: v.code.trim() } });
  if (result.status !== 204) return result;
  form.reset();
  $('#totp-codes').hidden = true;
  await loadAccount();
  $('#totp-message').textContent = 'Two-factor authentication is off.';
});

onSubmit('form-delete', async (form, v) => {
  if (!$('#delete-sure').checked) {
    return { status: 400, data: { message: 'Tick the box to confirm that you want the account deleted.' } };
  }
  const result = await call('DELETE', '/me', { body: { password: v.password } });
  if (result.status !== 204) return result;
  form.reset();
  signedOut('Your account was deleted.');
});


// --- passkeys (WebAuthn) --------------------------------------------------------------------------
// The service sends options and takes responses in the WebAuthn JSON forms; browsers that lack
// PublicKeyCredential.parseCreationOptionsFromJSON / toJSON get the same conversion by hand.

const bytes = {
  from: (text) => Uint8Array.from(atob(text.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0)).buffer,
  text: (buffer) => btoa(String.fromCharCode(...new Uint8Array(buffer))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''),
};
const withIds = (list) => (list || []).map((c) => ({ ...c, id: bytes.from(c.id) }));

function creationOptions(json) {
  try { if (PublicKeyCredential.parseCreationOptionsFromJSON) return PublicKeyCredential.parseCreationOptionsFromJSON(json); } catch { /* converted by hand below */ }
  return { ...json, challenge: bytes.from(json.challenge), user: { ...json.user, id: bytes.from(json.user.id) }, excludeCredentials: withIds(json.excludeCredentials) };
}

function requestOptions(json) {
  try { if (PublicKeyCredential.parseRequestOptionsFromJSON) return PublicKeyCredential.parseRequestOptionsFromJSON(json); } catch { /* converted by hand below */ }
  return { ...json, challenge: bytes.from(json.challenge), allowCredentials: withIds(json.allowCredentials) };
}

function credentialJSON(credential) {
  if (credential.toJSON) return credential.toJSON();
  const r = credential.response;
  const response = { clientDataJSON: bytes.text(r.clientDataJSON) };
  if (r.attestationObject) Object.assign(response, { attestationObject: bytes.text(r.attestationObject), transports: r.getTransports ? r.getTransports() : [] });
  else Object.assign(response, { authenticatorData: bytes.text(r.authenticatorData), signature: bytes.text(r.signature), userHandle: r.userHandle ? bytes.text(r.userHandle) : undefined });
  return { id: credential.id, rawId: bytes.text(credential.rawId), type: credential.type, response, clientExtensionResults: credential.getClientExtensionResults(), authenticatorAttachment: credential.authenticatorAttachment };
}

// What the browser's refusal means to a person.
function passkeyProblem(error, creating) {
  if (error.name === 'InvalidStateError') return local('This device already holds a passkey for your account.');
  if (error.name === 'NotAllowedError') return local(creating ? 'No passkey was made: it was cancelled or took too long. Try again.' : 'No passkey was used: it was cancelled or took too long. Try again, or sign in another way.');
  if (error.name === 'SecurityError') return local('Passkeys cannot be used on this address. Open the page at the service\'s own address.');
  return local(`The passkey could not be used (${error.name}).`);
}

const passkeysWork = Boolean(window.PublicKeyCredential && navigator.credentials);
$('#form-passkey-signin').hidden = !passkeysWork;

onSubmit('form-passkey-signin', async () => {
  const options = await call('POST', '/login/passkey/options', { body: {}, token: null });
  if (options.status !== 200) return options;
  let credential;
  try { credential = await navigator.credentials.get({ publicKey: requestOptions(options.data.publicKey) }); } catch (error) { return passkeyProblem(error, false); }
  const body = { ceremony: options.data.ceremony, credential: credentialJSON(credential) };
  const result = await call('POST', '/login/passkey', { body, token: null });
  if (result.status !== 200) return result;
  await signedIn(result);
});

onSubmit('form-passkey-add', async (form, v) => {
  if (!passkeysWork) return local('This browser cannot make passkeys.');
  const options = await call('POST', '/me/passkeys/options', { body: { password: v.password } });
  if (options.status !== 200) return options;
  let credential;
  try { credential = await navigator.credentials.create({ publicKey: creationOptions(options.data.publicKey) }); } catch (error) { return passkeyProblem(error, true); }
  const body = { ceremony: options.data.ceremony, credential: credentialJSON(credential) };
  if (v.name.trim()) body.name = v.name.trim();
  const result = await call('POST', '/me/passkeys', { body });
  if (result.status !== 201) return result;
  form.reset();
  done(form, `Your passkey "${result.data.name}" is ready: next time, choose "Sign in with a passkey".`);
  await Promise.all([loadPasskeys(), loadEvents()]);
});

async function loadPasskeys() {
  const result = await call('GET', '/me/passkeys');
  const body = $('#passkeys tbody');
  body.replaceChildren();
  const passkeys = result.data.passkeys || [];
  $('#passkeys').hidden = passkeys.length === 0;
  $('#passkeys-none').hidden = passkeys.length > 0;
  for (const k of passkeys) {
    const row = body.insertRow();
    const name = cell(row, '', k.name);
    cell(row, 'Added', new Date(k.created_at).toLocaleString());
    cell(row, 'Last used', k.last_used_at ? new Date(k.last_used_at).toLocaleString() : 'never');
    const actions = row.insertCell();
    const button = (label, handler) => {
      const b = Object.assign(document.createElement('button'), { type: 'button', className: 'small', textContent: label });
      b.setAttribute('aria-label', `${label}: ${k.name}`);
      b.addEventListener('click', handler);
      actions.append(b, ' ');
      return b;
    };
    button('Rename', () => renamePasskey(k, name));
    const remove = button('Remove', async () => {
      if (remove.dataset.armed !== 'yes') { remove.dataset.armed = 'yes'; remove.textContent = 'Really remove?'; return; }
      const answer = await call('DELETE', `/me/passkeys/${k.id}`);
      $('#passkeys-message').textContent = answer.status === 204 ? `The passkey "${k.name}" is removed.` : human(answer.data);
      await Promise.all([loadPasskeys(), loadEvents()]);
    });
  }
}

// Renames in place: the name's cell becomes a field with Save and Cancel.
function renamePasskey(passkey, cellOfName) {
  const field = Object.assign(document.createElement('input'), { value: passkey.name, maxLength: 64 });
  field.setAttribute('aria-label', `New name for ${passkey.name}`);
  const save = Object.assign(document.createElement('button'), { type: 'button', className: 'small', textContent: 'Save' });
  const cancel = Object.assign(document.createElement('button'), { type: 'button', className: 'small secondary', textContent: 'Cancel' });
  cancel.addEventListener('click', loadPasskeys);
  save.addEventListener('click', async () => {
    save.setAttribute('aria-busy', 'true');
    const answer = await call('PATCH', `/me/passkeys/${passkey.id}`, { body: { name: field.value } });
    save.removeAttribute('aria-busy');
    if (answer.status !== 200) { $('#passkeys-message').textContent = human(answer.data); field.focus(); return; }
    $('#passkeys-message').textContent = `Renamed to "${answer.data.name}".`;
    await loadPasskeys();
  });
  cellOfName.replaceChildren(field, save, ' ', cancel);
  field.focus();
}

// --- the TOTP key on a phone ------------------------------------------------------------------

$('#totp-copy').addEventListener('click', async () => {
  try {
    await navigator.clipboard.writeText($('#totp-secret').textContent);
    $('#totp-copied').textContent = 'Copied.';
  } catch {
    $('#totp-copied').textContent = 'Copying is not allowed here: select the key and copy it.';
  }
});

// --- password fields: a Show button on each --------------------------------------------------

for (const input of document.querySelectorAll('input[type=password]')) {
  const wrapper = Object.assign(document.createElement('div'), { className: 'password-field' });
  input.before(wrapper);
  const toggle = Object.assign(document.createElement('button'), { type: 'button', textContent: 'Show' });
  toggle.setAttribute('aria-controls', input.id);
  toggle.setAttribute('aria-pressed', 'false');
  toggle.setAttribute('aria-label', 'Show the password');
  toggle.addEventListener('click', () => {
    const shown = input.type === 'password';
    input.type = shown ? 'text' : 'password';
    toggle.textContent = shown ? 'Hide' : 'Show';
    toggle.setAttribute('aria-pressed', String(shown));
  });
  wrapper.append(input, toggle);
}


// --- other providers (OpenID Connect) -----------------------------------------------------------
// A sign-in leaves for the provider and comes back to this page with the outcome in the fragment:
// #login_code= (exchanged here for tokens: they never travel in a URL), #linked= or #error=.

const PROVIDER_ERRORS = {
  access_denied: 'You did not allow the sign-in at the provider.',
  link_required: 'An account already uses that email. Sign in another way, then link this provider under Security.',
  email_not_verified: 'The provider did not confirm your email address, so no account was made.',
  account_disabled: 'This account has been disabled by an administrator.',
  already_linked: 'That account at the provider is linked to another account here.',
  provider_error: 'The provider could not sign you in. Try again, or sign in another way.',
};
const pageUrl = () => location.origin + location.pathname + location.search;
let providerNames = [];

// A PKCE pair of this tab's own (RFC 7636 between this page and beefirst): the code that comes
// back opens nothing without the verifier kept here, so a callback URL planted from elsewhere
// signs nobody in. The challenge is left out where the browser has no crypto.subtle (http://).
async function roundTripChallenge() {
  if (!crypto.subtle) return null;
  const verifier = bytes.text(crypto.getRandomValues(new Uint8Array(32)));
  sessionStorage.setItem('beefirst.idp_verifier', verifier);
  return bytes.text(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
}

function takeVerifier() {
  const verifier = sessionStorage.getItem('beefirst.idp_verifier');
  sessionStorage.removeItem('beefirst.idp_verifier');
  return verifier || undefined;
}

async function loadProviders() {
  const result = await call('GET', '/idp', { token: null });
  providerNames = (result.data.providers || []).map((p) => p.name);
  const box = $('#providers');
  box.hidden = providerNames.length === 0;
  for (const name of providerNames) {
    const button = Object.assign(document.createElement('button'), { type: 'button', className: 'secondary', textContent: `Continue with ${name}` });
    button.dataset.provider = name;
    button.addEventListener('click', async () => {
      const challenge = await roundTripChallenge();
      const bound = challenge ? `&code_challenge=${challenge}` : '';
      location.href = `${API}/idp/${encodeURIComponent(name)}/authorize?redirect_to=${encodeURIComponent(pageUrl())}${bound}`;
    });
    box.append(button);
  }
}

// What the fragment brought back; the fragment is removed at once (it is a one-time secret).
async function providerReturn() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (!['login_code', 'link_code', 'linked', 'error'].some((k) => fragment.has(k))) return false;
  history.replaceState(null, '', pageUrl());
  const verifier = takeVerifier();
  if (fragment.has('login_code')) {
    const body = { login_code: fragment.get('login_code'), code_verifier: verifier };
    const result = await call('POST', '/idp/exchange', { body, token: null });
    if (result.status === 200) { await signedIn(result); return true; }
    show('signin');
    $('#providers-error').textContent = human(result.data);
    return true;
  }
  if (fragment.has('link_code') && await refresh()) {
    const body = { link_code: fragment.get('link_code'), code_verifier: verifier };
    const answer = await call('POST', '/me/identities/confirm', { body });
    await loadAccount();
    showTab('security');
    $('#identities-message').textContent = answer.status === 200
      ? `Signing in with ${answer.data.provider} now opens this account.` : human(answer.data);
    return true;
  }
  if (fragment.has('linked') && await refresh()) {
    await loadAccount();
    showTab('security');
    $('#identities-message').textContent = `Signing in with ${fragment.get('linked')} already opens this account.`;
    return true;
  }
  const message = PROVIDER_ERRORS[fragment.get('error')] || PROVIDER_ERRORS.provider_error;
  if (await refresh()) {
    await loadAccount();
    showTab('security');
    $('#identities-message').textContent = message;
  } else {
    show('signin');
    $('#providers-error').textContent = message;
  }
  return true;
}

async function loadIdentities() {
  const result = await call('GET', '/me/identities');
  const identities = result.data.identities || [];
  $('#identities-part').hidden = providerNames.length === 0 && identities.length === 0;
  const list = $('#identities');
  list.replaceChildren();
  for (const identity of identities) {
    const item = document.createElement('li');
    const label = Object.assign(document.createElement('span'), { textContent: `${identity.provider}${identity.email ? ` (${identity.email})` : ''}` });
    const unlink = Object.assign(document.createElement('button'), { type: 'button', className: 'small', textContent: 'Unlink' });
    unlink.setAttribute('aria-label', `Unlink ${identity.provider}`);
    unlink.addEventListener('click', async () => {
      const answer = await call('DELETE', `/me/identities/${identity.id}`);
      $('#identities-message').textContent = answer.status === 204 ? `${identity.provider} no longer signs you in.` : human(answer.data);
      await loadIdentities();
    });
    item.append(label, unlink);
    list.append(item);
  }
  const links = $('#identity-links');
  links.replaceChildren();
  for (const name of providerNames.filter((n) => !identities.some((i) => i.provider === n))) {
    const button = Object.assign(document.createElement('button'), { type: 'button', className: 'secondary', textContent: `Link ${name}` });
    button.addEventListener('click', async () => {
      const challenge = await roundTripChallenge();
      const body = { redirect_to: pageUrl(), ...(challenge ? { code_challenge: challenge } : {}) };
      const answer = await call('POST', `/me/identities/${encodeURIComponent(name)}`, { body });
      if (answer.status === 200) location.href = answer.data.authorize_url;
      else $('#identities-message').textContent = human(answer.data);
    });
    links.append(button);
  }
}

// --- a person's own data -------------------------------------------------------------------------

$('#export').addEventListener('click', async () => {
  const button = $('#export');
  button.setAttribute('aria-busy', 'true');
  const result = await call('GET', '/me/export');
  button.removeAttribute('aria-busy');
  if (result.status !== 200) { $('#export-message').textContent = human(result.data); return; }
  const file = new Blob([JSON.stringify(result.data, null, 2)], { type: 'application/json' });
  const link = Object.assign(document.createElement('a'), { href: URL.createObjectURL(file), download: 'beefirst-export.json' });
  link.click();
  URL.revokeObjectURL(link.href);
  $('#export-message').textContent = `Your data was downloaded: ${result.data.events.length} events, ${result.data.sessions.length} devices.`;
});

// --- administration -------------------------------------------------------------------------

async function loadUsers(append) {
  const prefix = $('#admin-prefix').value.trim();
  const query = new URLSearchParams({ limit: '20' });
  if (prefix) query.set('email_prefix', prefix);
  if (append && state.usersAfter) query.set('after', state.usersAfter);
  const result = await call('GET', `/admin/users?${query}`);
  if (result.status !== 200) return result;
  const body = $('#users tbody');
  if (!append) body.replaceChildren();
  for (const u of result.data.users) {
    const row = body.insertRow();
    row.insertCell().textContent = u.email;
    row.insertCell().textContent = u.status;
    row.insertCell().textContent = u.role;
    const cell = row.insertCell();
    const act = (label, method, path) => {
      const button = Object.assign(document.createElement('button'), { type: 'button', className: 'small', textContent: label });
      button.setAttribute('aria-label', `${label} ${u.email}`);
      button.addEventListener('click', async () => {
        if (method === 'DELETE' && button.dataset.armed !== 'yes') {
          button.dataset.armed = 'yes';
          button.textContent = `Really delete ${u.email}?`;
          return;
        }
        const answer = await call(method, path);
        say(answer.status === 204 ? `Done: ${label.toLowerCase()} ${u.email}.` : answer.data.message);
        await loadUsers(false);
      });
      cell.append(button, ' ');
    };
    if (u.status === 'disabled') act('Enable', 'POST', `/admin/users/${u.id}/enable`);
    else act('Disable', 'POST', `/admin/users/${u.id}/disable`);
    act('Delete', 'DELETE', `/admin/users/${u.id}`);
  }
  state.usersAfter = result.data.next;
  $('#admin-more').hidden = !result.data.next;
  return result;
}

onSubmit('form-admin-search', async () => loadUsers(false));
$('#admin-more').addEventListener('click', () => loadUsers(true));
$('#nav-admin').addEventListener('click', async () => { show('admin'); await loadUsers(false); });
$('#nav-account').addEventListener('click', loadAccount);

for (const link of document.querySelectorAll('[data-go]')) {
  link.addEventListener('click', () => {
    say('');
    if (link.dataset.go === 'code' && !$('#code-email').value) $('#code-email').value = $('#signin-email').value;
    show(link.dataset.go);
  });
}

// Back from a provider, the fragment says what happened; otherwise a reload keeps the session of
// this tab: its refresh token is in sessionStorage.
await loadProviders();
if (!await providerReturn()) {
  if (await refresh()) await loadAccount();
  else show('signin');
}

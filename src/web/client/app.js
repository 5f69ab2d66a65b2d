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
  invalid_code_format: ['code'], wrong_code: ['code'], invalid_code: ['code'],
};

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
  for (const note of form.querySelectorAll('.field-error')) note.remove();
  for (const input of form.querySelectorAll('[aria-invalid]')) {
    input.removeAttribute('aria-invalid');
    input.removeAttribute('aria-describedby');
  }
}

function showError(form, result) {
  const { error } = result.data;
  let { message } = result.data;
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
    field.after(note);
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
    try {
      const result = await handler(form, values(form));
      if (result && (result.status === 0 || result.status >= 400)) showError(form, result);
    } finally {
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
  for (const id of ['recovery-codes', 'totp-qr', 'totp-secret', 'events', 'profile-email', 'profile-role', 'profile-created', 'totp-state']) {
    $(`#${id}`).replaceChildren();
  }
  for (const id of ['sessions', 'users']) $(`#${id} tbody`).replaceChildren();
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
  $('#totp-state').textContent = p.totp_enabled ? 'On: signing in needs a code from your app.' : 'Off.';
  $('#form-totp').hidden = p.totp_enabled;
  $('#form-totp-off').hidden = !p.totp_enabled;
  $('#nav-admin').hidden = p.role !== 'admin';
  show('account');
  await Promise.all([loadSessions(), loadEvents()]);
}

async function loadSessions() {
  const result = await call('GET', '/me/sessions');
  const body = $('#sessions tbody');
  body.replaceChildren();
  for (const s of result.data.sessions || []) {
    const row = body.insertRow();
    row.insertCell().textContent = (s.user_agent || 'Unknown device').slice(0, 60) + (s.current ? ' (this device)' : '');
    row.insertCell().textContent = new Date(s.created_at).toLocaleString();
    row.insertCell().textContent = new Date(s.last_used_at).toLocaleString();
    const cell = row.insertCell();
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'small';
    button.textContent = s.current ? 'Sign out' : 'Sign this device out';
    button.setAttribute('aria-label', `${button.textContent}: ${s.user_agent || 'unknown device'}, signed in ${new Date(s.created_at).toLocaleString()}`);
    button.addEventListener('click', async () => {
      if (s.current) { await call('POST', '/logout'); return signedOut('You are signed out.'); }
      const answer = await call('DELETE', `/me/sessions/${s.id}`);
      say(answer.status === 204 ? 'That device is signed out.' : answer.data.message);
      await loadSessions();
    });
    cell.append(button);
  }
}

async function loadEvents() {
  const result = await call('GET', '/me/events?limit=10');
  const list = $('#events');
  list.replaceChildren();
  for (const e of result.data.events || []) {
    const item = document.createElement('li');
    item.textContent = `${new Date(e.at).toLocaleString()}: ${e.action.replaceAll('_', ' ')}`;
    list.append(item);
  }
}

$('#signout-others').addEventListener('click', async () => {
  const answer = await call('DELETE', '/me/sessions');
  say(answer.status === 204 ? 'Every other device is signed out.' : answer.data.message);
  await loadSessions();
});

onSubmit('form-name', async (form, v) => {
  const result = await call('PATCH', '/me', { body: { display_name: v.display_name.trim() || null } });
  if (result.status !== 200) return result;
  say('Your display name is saved.');
});

onSubmit('form-password', async (form, v) => {
  const result = await call('POST', '/me/password', { body: v });
  if (result.status !== 204) return result;
  form.reset();
  say('Your password is changed, and every other device signed out.');
  await loadSessions();
});

onSubmit('form-email', async (form, v) => {
  const result = await call('POST', '/me/email', { body: v });
  if (result.status !== 202) return result;
  $('#form-email-confirm').hidden = false;
  $('#email-code').focus();
  say(`A code is on its way to ${result.data.pending_email}.`);
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
  const result = await call('POST', '/me/totp', { body: v });
  if (result.status !== 200) return result;
  form.reset();
  $('#totp-secret').textContent = result.data.secret;
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
  $('#totp-state').textContent = 'On: signing in needs a code from your app.';
  $('#form-totp').hidden = true;
  $('#form-totp-off').hidden = false;
  say('Two-factor authentication is on.');
});

onSubmit('form-totp-off', async (form, v) => {
  const result = await call('DELETE', '/me/totp', { body: { password: v.password, code: v.code.trim() } });
  if (result.status !== 204) return result;
  form.reset();
  $('#totp-codes').hidden = true;
  say('Two-factor authentication is off.');
  await loadAccount();
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

// A reload keeps the session of this tab: its refresh token is in sessionStorage.
if (await refresh()) await loadAccount();
else show('signin');

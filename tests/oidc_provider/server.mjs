// A real OpenID Provider (oidc-provider 9) for the gateway's SSO tests (tests/oidc_server.py).
//
//   node server.mjs        (settings from the environment)
//
// OIDC_PORT      the port to listen on (127.0.0.1)
// OIDC_CLIENTS   JSON: [{"client_id", "client_secret", "redirect_uris": [...]}, ...]
//                (confidential clients, client_secret_basic, code flow, PKCE required)
// OIDC_KEYS      a JSON file of private JWKs. Each start generates a new RSA key (a new kid),
//                puts it first (it signs) and keeps the previous one published: restarting
//                the server is a key rotation.
// OIDC_SHORT_TTL_CLIENT  a client_id whose ID tokens live one second (expired-token tests)
// OIDC_REGISTRATION_TOKEN  enables dynamic client registration (POST /reg) with this bearer
//                token (the browser tests register their live server's redirect_uri)
//
// Users (fixed, with passwords) are in USERS below. Interactions are our own plain HTML:
// a login form that checks the password, and consent granted without asking.

import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';

import Provider from 'oidc-provider';

const USERS = {
  alice: {
    password: 'alice-oidc-pass-1',
    email: 'alice@example.com',
    email_verified: true,
    given_name: 'Alice',
    family_name: 'Anders',
    name: 'Alice Anders',
    groups: ['sales'],
  },
  bob: {
    password: 'bob-oidc-pass-2',
    email: 'bob@example.com',
    email_verified: true,
    given_name: 'Bob',
    family_name: 'Berg',
    name: 'Bob Berg',
    groups: ['ops'],
  },
  carol: {
    password: 'carol-oidc-pass-3',
    email: 'carol@example.com',
    email_verified: false,
    given_name: 'Carol',
    family_name: 'Cho',
    name: 'Carol Cho',
    groups: ['sales'],
  },
  root: {
    password: 'root-oidc-pass-4',
    email: 'admin@example.com',
    email_verified: true,
    given_name: 'Ada',
    family_name: 'Admin',
    name: 'Ada Admin',
    groups: ['admins'],
  },
};

const port = Number(process.env.OIDC_PORT);
const issuer = `http://127.0.0.1:${port}`;
const clients = JSON.parse(process.env.OIDC_CLIENTS || '[]').map((c) => ({
  client_id: c.client_id,
  client_secret: c.client_secret,
  redirect_uris: c.redirect_uris,
  grant_types: ['authorization_code'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
}));
const shortTtlClient = process.env.OIDC_SHORT_TTL_CLIENT || '';
const registrationToken = process.env.OIDC_REGISTRATION_TOKEN || '';

function signingKeys() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const fresh = { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };
  const file = process.env.OIDC_KEYS;
  const old = file && existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : [];
  const keys = [fresh, ...old].slice(0, 2);
  if (file) writeFileSync(file, JSON.stringify(keys), { mode: 0o600 });
  return keys;
}

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: signingKeys() },
  cookies: { keys: [randomUUID(), randomUUID()] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name'],
    groups: ['groups'],
  },
  scopes: ['openid', 'email', 'profile', 'groups'],
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: false },
    registration: registrationToken
      ? { enabled: true, initialAccessToken: registrationToken }
      : { enabled: false },
  },
  pkce: { required: () => true },
  ttl: {
    IdToken: (ctx, token, client) => (client && client.clientId === shortTtlClient ? 1 : 3600),
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, sub) {
    const user = USERS[sub];
    if (!user) return undefined;
    return {
      accountId: sub,
      async claims() {
        const { password, ...claims } = user; // eslint-disable-line no-unused-vars
        return { sub, ...claims };
      },
    };
  },
});

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(res, status, body) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(`<!doctype html><html><head><title>Test IdP</title></head><body>${body}</body></html>`);
}

function loginForm(res, uid, error) {
  page(
    res,
    error ? 401 : 200,
    `<h1>Sign in to the test IdP</h1>${error ? `<p id="error">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
<label>Username <input name="login" autocomplete="username" autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button></form>`,
  );
}

async function formBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function grantConsent(req, res, details) {
  const { prompt, params, session } = details;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
  if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes || {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  const consent = details.grantId ? {} : { grantId };
  await provider.interactionFinished(req, res, { consent }, { mergeWithLastSubmission: true });
}

async function interaction(req, res, uid, step) {
  const details = await provider.interactionDetails(req, res);
  if (step === '/login' && req.method === 'POST') {
    const form = await formBody(req);
    const login = form.get('login') || '';
    const user = Object.hasOwn(USERS, login) ? USERS[login] : null;
    if (!user || user.password !== form.get('password')) {
      loginForm(res, uid, 'Invalid username or password.');
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
    return;
  }
  if (details.prompt.name === 'login') {
    loginForm(res, uid, '');
    return;
  }
  await grantConsent(req, res, details); // consent: granted without asking
}

const callback = provider.callback();
const server = http.createServer((req, res) => {
  const match = /^\/interaction\/([^/]+)(\/login)?$/.exec(new URL(req.url, issuer).pathname);
  if (!match) {
    callback(req, res);
    return;
  }
  interaction(req, res, match[1], match[2]).catch((err) => {
    page(res, 400, `<p id="error">${escape(err.message)}</p>`);
  });
});
server.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));

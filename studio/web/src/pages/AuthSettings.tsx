/**
 * Auth's settings, read-only (GET /auth/settings): each comes from the environment or
 * supabase/config.toml at start, and the "set in" column says which; secrets arrive masked.
 */
import type { ComponentChildren } from 'preact';
import { api } from '../api.js';
import { DataTable, type Column } from '../components/DataTable.js';
import { Badge } from '../components/Layout.js';
import { Await } from '../components/Notice.js';
import { useLoad } from '../hooks.js';
import type { AuthSettings, SetIn } from '../types.js';

interface Setting {
  name: string;
  value: ComponentChildren;
  setIn?: string;
}

const onOff = (on: boolean) => <Badge on={on}>{on ? 'on' : 'off'}</Badge>;
const text = (v: string | number | null) => (v === null || v === '' ? <span class="muted">not set</span> : v);

const SETTING_COLUMNS: Column<Setting>[] = [
  { key: 'name', header: 'setting' },
  { key: 'value', header: 'value', render: (s) => s.value },
  { key: 'setIn', header: 'set in', class: 'muted code', render: (s) => s.setIn ?? '' },
];

function Section({ id, title, rows }: { id: string; title: string; rows: Setting[] }) {
  return (
    <>
      <h3>{title}</h3>
      <DataTable id={id} columns={SETTING_COLUMNS} rows={rows} rowKey={(s) => s.name} />
    </>
  );
}

const from = (setIn: SetIn, key: string) => setIn[key];

export function AuthSettingsView() {
  const [settings] = useLoad(() => api<AuthSettings>('GET', '/auth/settings'), []);
  return (
    <div id="auth-settings">
      <p class="muted">
        Read-only: auth is configured by environment variables or supabase/config.toml (docs/configuration.md), read at
        start; a change takes effect at the next start. Secrets are shown as ******** when set.
      </p>
      <Await value={settings}>
        {(s) => (
          <>
            <Section
              id="auth-general"
              title="Sign-ups and email"
              rows={[
                { name: 'site URL', value: s.siteUrl },
                { name: 'redirect URLs', value: s.redirectUrls.length ? s.redirectUrls.join(', ') : text(null) },
                { name: 'sign-ups disabled', value: onOff(s.signup.disabled), setIn: from(s.signup.setIn, 'disabled') },
                {
                  name: 'anonymous sign-ins',
                  value: onOff(s.signup.anonymous),
                  setIn: from(s.signup.setIn, 'anonymous'),
                },
                {
                  name: 'manual identity linking',
                  value: onOff(s.signup.manualLinking),
                  setIn: from(s.signup.setIn, 'manualLinking'),
                },
                { name: 'email sign-ins', value: onOff(s.email.enabled) },
                {
                  name: 'email autoconfirm',
                  value: onOff(s.email.autoconfirm),
                  setIn: from(s.email.setIn, 'autoconfirm'),
                },
                {
                  name: 'minimum password length',
                  value: s.email.passwordMinLength,
                  setIn: from(s.email.setIn, 'passwordMinLength'),
                },
                { name: 'OTP expiry (s)', value: s.email.otpExpiry, setIn: from(s.email.setIn, 'otpExpiry') },
              ]}
            />
            <Section
              id="auth-phone"
              title="Phone"
              rows={[
                { name: 'phone sign-ins', value: onOff(s.phone.enabled), setIn: from(s.phone.setIn, 'enabled') },
                {
                  name: 'phone autoconfirm',
                  value: onOff(s.phone.autoconfirm),
                  setIn: from(s.phone.setIn, 'autoconfirm'),
                },
                { name: 'SMS provider', value: text(s.phone.provider), setIn: from(s.phone.setIn, 'provider') },
                ...Object.entries(s.phone.credentials).map(([k, v]) => ({ name: `  ${k}`, value: text(v) })),
                { name: 'test numbers', value: s.phone.testNumbers, setIn: from(s.phone.setIn, 'testNumbers') },
              ]}
            />
            <h3>External providers (OAuth)</h3>
            <DataTable
              id="auth-providers"
              columns={[
                { key: 'id', header: 'provider', sortable: true },
                { key: 'enabled', header: 'enabled', sortable: true, render: (p) => onOff(p.enabled) },
                { key: 'clientId', header: 'client id', class: 'code', render: (p) => text(p.clientIds.join(', ')) },
                { key: 'secret', header: 'secret', render: (p) => text(p.secret) },
                { key: 'redirectUri', header: 'redirect URI', class: 'code', render: (p) => text(p.redirectUri) },
                {
                  key: 'setIn',
                  header: 'set in',
                  class: 'muted code',
                  render: (p) => [...new Set(Object.values(p.setIn))].join(', '),
                },
              ]}
              rows={s.external}
              rowKey={(p) => p.id}
              pageSize={20}
              empty="No external provider is configured."
            />
            <h3>Hooks</h3>
            <DataTable
              id="auth-hooks"
              columns={[
                { key: 'name', header: 'hook' },
                { key: 'enabled', header: 'enabled', render: (h) => onOff(h.enabled) },
                { key: 'kind', header: 'kind', render: (h) => text(h.kind) },
                { key: 'uri', header: 'URI', class: 'code', render: (h) => text(h.uri) },
                { key: 'secrets', header: 'signing secrets' },
                { key: 'setIn', header: 'set in', class: 'muted code', render: (h) => h.setIn.enabled ?? '' },
              ]}
              rows={s.hooks}
              rowKey={(h) => h.name}
            />
            <Section
              id="auth-mfa"
              title="MFA"
              rows={[
                {
                  name: 'factors per user (at most)',
                  value: s.mfa.maxEnrolledFactors,
                  setIn: from(s.mfa.setIn, 'maxEnrolledFactors'),
                },
                {
                  name: 'TOTP enroll / verify',
                  value: (
                    <>
                      {onOff(s.mfa.totp.enroll)} {onOff(s.mfa.totp.verify)}
                    </>
                  ),
                  setIn: from(s.mfa.setIn, 'totpEnroll'),
                },
                {
                  name: 'phone enroll / verify',
                  value: (
                    <>
                      {onOff(s.mfa.phone.enroll)} {onOff(s.mfa.phone.verify)}
                    </>
                  ),
                  setIn: from(s.mfa.setIn, 'phoneEnroll'),
                },
                {
                  name: 'WebAuthn enroll / verify',
                  value: (
                    <>
                      {onOff(s.mfa.webauthn.enroll)} {onOff(s.mfa.webauthn.verify)}
                    </>
                  ),
                  setIn: from(s.mfa.setIn, 'webauthnEnroll'),
                },
                { name: 'passkeys', value: onOff(s.mfa.passkeys), setIn: from(s.mfa.setIn, 'passkeys') },
              ]}
            />
            <Section
              id="auth-jwt"
              title="Tokens"
              rows={[
                { name: 'access token expiry (s)', value: s.jwt.expiry, setIn: from(s.jwt.setIn, 'expiry') },
                {
                  name: 'new tokens signed with',
                  value: `${s.jwt.signing.alg ?? '?'}${s.jwt.signing.kid ? `, kid ${s.jwt.signing.kid}` : ''}`,
                  setIn: from(s.jwt.setIn, s.jwt.signing.kid ? 'keys' : 'secret'),
                },
                ...s.jwt.keys.map((k, i) => ({
                  name: `verification key ${i + 1}`,
                  value: `${k.alg ?? '?'} (${k.kty})${k.kid ? `, kid ${k.kid}` : ''}`,
                })),
                { name: 'signing keys file', value: text(s.jwt.signingKeysPath) },
              ]}
            />
          </>
        )}
      </Await>
    </div>
  );
}

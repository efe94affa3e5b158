/** What a provider tells about its user, and the two kinds of provider Trellis speaks to. */

export interface ProviderEmail {
  readonly email: string;
  readonly verified: boolean;
  readonly primary: boolean;
}

/** GoTrue's UserProvidedData: the identity's subject, its addresses and identity_data. */
export interface ProviderUser {
  readonly subject: string;
  readonly emails: readonly ProviderEmail[];
  /** identity_data and the user_metadata merged from it (GoTrue's provider.Claims, empty fields left out). */
  readonly metadata: Readonly<Record<string, unknown>>;
  /**
   * The address may not link this identity to a user who holds it, verified or not: set for a
   * multi-tenant Azure token, whose `email` any tenant's administrator chooses.
   */
  readonly noEmailLinking?: boolean;
}

export type GetJson = (url: string, accessToken: string) => Promise<unknown>;

export interface OidcSpec {
  readonly kind: 'oidc';
  readonly issuer: string;
  readonly scopes: string;
  /** Apple posts the answer back (response_mode=form_post) when scopes ask for the name or email. */
  readonly formPost?: boolean;
}

export interface OAuth2Spec {
  readonly kind: 'oauth2';
  readonly authorizeUrl: string;
  readonly tokenUrl: string;
  readonly scopes: string;
  /** The provider wants PKCE from its client (X does). */
  readonly pkce: boolean;
  /** The provider wants the client secret by HTTP Basic rather than in the body. */
  readonly basicAuth: boolean;
  profile(getJson: GetJson, accessToken: string): Promise<ProviderUser>;
}

export type ProviderSpec = OidcSpec | OAuth2Spec;

export const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
export const obj = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/** identity_data without empty values, as structs.Map with omitempty writes GoTrue's. */
export function claims(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== '' && v !== undefined && v !== null));
}

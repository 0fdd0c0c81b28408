/**
 * The gateway's token check (docs/spec.md, section 9, "Authentication"): every request to `/mcp`
 * carries `Authorization: Bearer <JWT>`, verified with `jose` for signature, expiry, and issuer
 * and audience when given, against a JWKS URL (cached by `jose`, fetched again for an unknown
 * `kid`) or an HS256 secret. A request that fails is answered 401 before anything else sees it.
 */

import { createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { UsageError } from "./errors.js";

/** Headers longer than this are refused without being parsed: no real token is this long. */
const MAX_AUTHORIZATION_BYTES = 16 * 1024;
/** Bounds a JWKS fetch, so a slow key server turns into 401s rather than requests that hang. */
const JWKS_TIMEOUT_MS = 5000;
/**
 * After a fetch of the key set, how long before a token with an unknown `kid` may fetch it
 * again: a rotated key is picked up a second later, and tokens with made-up kids cost the key
 * server one request a second at most (jose's default is 30 s).
 */
const JWKS_COOLDOWN_MS = 1000;
/** The HS256 secret's least length, in bytes (RFC 7518, section 3.2: at least the hash's size). */
const MIN_SECRET_BYTES = 32;

/** What a verified token gives the guard: the SDK's `AuthInfo` shape. */
export interface VerifiedToken {
  token: string;
  clientId: string;
  scopes: string[];
  expiresAt?: number;
  /** `sub` is the principal (section 8); `claims` the token's payload, as the session's `claims`. */
  extra: { sub: string; claims: JWTPayload };
}

/** A refused request: why (for the `WWW-Authenticate` header), never a token's content. */
export interface Refused {
  status: 401;
  /** The `WWW-Authenticate` header's value. */
  challenge: string;
}

/** Settings of {@link TokenVerifier}, as the flags give them. */
export interface TokenSettings {
  jwksUrl?: URL;
  secret?: Uint8Array;
  issuer?: string;
  audience?: string;
}

/** Checks bearer tokens; one per gateway. */
export class TokenVerifier {
  private readonly key: Uint8Array | JWTVerifyGetKey;
  private readonly algorithms: string[] | undefined;

  constructor(private readonly settings: TokenSettings) {
    if (settings.jwksUrl !== undefined) {
      this.key = createRemoteJWKSet(settings.jwksUrl, {
        timeoutDuration: JWKS_TIMEOUT_MS,
        cooldownDuration: JWKS_COOLDOWN_MS,
      });
      // With a key set, the keys say their algorithms; symmetric ones are never taken from it.
      this.algorithms = undefined;
    } else if (settings.secret !== undefined) {
      this.key = settings.secret;
      this.algorithms = ["HS256"];
    } else {
      throw new Error("TokenVerifier needs a JWKS URL or a secret");
    }
  }

  /** Verifies the `Authorization` header's bearer token. Never throws. */
  async verify(header: string | string[] | undefined): Promise<VerifiedToken | Refused> {
    if (header === undefined) return refused();
    if (typeof header !== "string" || header.length > MAX_AUTHORIZATION_BYTES)
      return refused("invalid_request", "malformed Authorization header");
    const match = /^Bearer +([A-Za-z0-9._~+/=-]+) *$/i.exec(header);
    if (match === null) return refused("invalid_request", "expected a Bearer token");
    const token = match[1] as string;
    let payload: JWTPayload;
    try {
      const options = {
        ...(this.settings.issuer === undefined ? {} : { issuer: this.settings.issuer }),
        ...(this.settings.audience === undefined ? {} : { audience: this.settings.audience }),
        ...(this.algorithms === undefined ? {} : { algorithms: this.algorithms }),
        requiredClaims: ["exp"],
      };
      const key = this.key;
      payload = (
        typeof key === "function" ? await jwtVerify(token, key, options) : await jwtVerify(token, key, options)
      ).payload;
    } catch {
      // jose's message can quote the token's claims; the header says only that it is invalid.
      return refused("invalid_token", "the token is invalid or expired");
    }
    const principal = [payload.sub, payload.client_id, payload.azp].find(
      (v): v is string => typeof v === "string" && v.length > 0,
    );
    if (principal === undefined) return refused("invalid_token", "the token names no subject (sub, client_id or azp)");
    const verified: VerifiedToken = {
      token,
      clientId: principal,
      scopes: scopesOf(payload),
      extra: { sub: principal, claims: payload },
    };
    if (typeof payload.exp === "number") verified.expiresAt = payload.exp;
    return verified;
  }
}

function scopesOf(payload: JWTPayload): string[] {
  const scope = payload.scope;
  return typeof scope === "string" ? scope.split(" ").filter((s) => s.length > 0) : [];
}

function refused(error?: string, description?: string): Refused {
  const challenge =
    error === undefined
      ? 'Bearer realm="toolgate"'
      : `Bearer realm="toolgate", error="${error}", error_description="${description ?? ""}"`;
  return { status: 401, challenge };
}

/**
 * The token settings of the flags, checked: an invalid URL, a missing or short secret, or both
 * sources at once are errors at start.
 */
export function tokenSettings(flags: {
  jwks?: string | undefined;
  secretEnv?: string | undefined;
  issuer?: string | undefined;
  audience?: string | undefined;
  env: NodeJS.ProcessEnv;
}): TokenSettings | undefined {
  const { jwks, secretEnv, issuer, audience, env } = flags;
  if (jwks !== undefined && secretEnv !== undefined)
    throw new UsageError("give --auth-jwks or --auth-secret-env, not both");
  if (jwks === undefined && secretEnv === undefined) {
    if (issuer !== undefined || audience !== undefined)
      throw new UsageError("--auth-issuer and --auth-audience need --auth-jwks or --auth-secret-env");
    return undefined;
  }
  const settings: TokenSettings = {};
  if (issuer !== undefined) {
    if (issuer === "") throw new UsageError("--auth-issuer needs the issuer (the tokens' iss)");
    settings.issuer = issuer;
  }
  if (audience !== undefined) {
    if (audience === "") throw new UsageError("--auth-audience needs the audience (the tokens' aud)");
    settings.audience = audience;
  }
  if (jwks !== undefined) {
    let url: URL;
    try {
      url = new URL(jwks);
    } catch {
      throw new UsageError(`--auth-jwks must be an http(s) URL, got ${JSON.stringify(jwks.slice(0, 200))}`);
    }
    if (url.protocol !== "https:" && url.protocol !== "http:")
      throw new UsageError(`--auth-jwks must be an http(s) URL, got ${JSON.stringify(url.protocol)}`);
    settings.jwksUrl = url;
    return settings;
  }
  const name = secretEnv as string;
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(name))
    throw new UsageError(
      `--auth-secret-env must name an environment variable, got ${JSON.stringify(name.slice(0, 200))}`,
    );
  const value = env[name];
  if (value === undefined || value === "")
    throw new UsageError(`--auth-secret-env ${name}: the environment variable ${name} is not set`);
  const secret = new TextEncoder().encode(value);
  if (secret.length < MIN_SECRET_BYTES) {
    throw new UsageError(
      `--auth-secret-env ${name}: the secret must be at least ${MIN_SECRET_BYTES} bytes, it is ${secret.length}`,
    );
  }
  settings.secret = secret;
  return settings;
}

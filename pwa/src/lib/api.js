// The REST client: JSON in and out, bearer tokens refreshed before they expire (one refresh at a
// time: a refresh token is single-use), problem+json errors turned into ApiError.

import { loadSession, updateSession } from "./session.js"

export const API = "/api/v1"

/** An HTTP error answer, with the RFC 9457 problem document when there is one. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`)
    this.status = status
    this.problem = problem ?? {}
  }

  /** The problem's code: `urn:taccuino:problem:device-revoked` -> `device-revoked`. */
  get code() {
    const type = this.problem.type ?? ""
    return type.slice(type.lastIndexOf(":") + 1)
  }

  /** Field errors as {field: message}. */
  get fields() {
    const out = {}
    for (const e of this.problem.errors ?? []) out[e.field] = e.detail
    return out
  }
}

/** The network is unreachable (offline, server down). */
export class NetworkError extends Error {}

/** The session cannot be renewed: the user must sign in again (local data stays). */
export class SignInRequired extends Error {}

let refreshing = null

async function send(method, path, { body, token, ifMatch, accept = "application/json" } = {}) {
  const headers = { accept }
  if (body !== undefined) headers["content-type"] = "application/json"
  if (token) headers.authorization = `Bearer ${token}`
  if (ifMatch !== undefined) headers["if-match"] = `"${ifMatch}"`
  let res
  try {
    res = await fetch(`${API}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    })
  } catch (err) {
    throw new NetworkError(err.message)
  }
  if (res.status === 204) return null
  const text = await res.text()
  let data = null
  if (text) {
    try {
      data = JSON.parse(text)
    } catch {
      data = text
    }
  }
  if (!res.ok) throw new ApiError(res.status, typeof data === "object" ? data : null)
  return data
}

/** Stores freshly issued tokens in the session; returns the session. */
export function storeTokens(tokens) {
  return updateSession({
    accessToken: tokens.access_token,
    refreshToken: tokens.refresh_token,
    // Renew a little early: the clocks of phone and server differ.
    accessExpiresAt: Date.now() + (tokens.expires_in - 30) * 1000,
  })
}

/** Signs in; returns the tokens and who the user is. */
export async function login(email, password) {
  const tokens = await send("POST", "/auth/login", { body: { email, password } })
  const me = await send("GET", "/me", { token: tokens.access_token })
  return { tokens, me }
}


async function refresh() {
  const session = loadSession()
  if (!session?.refreshToken) throw new SignInRequired()
  try {
    const tokens = await send("POST", "/auth/refresh", { body: { refresh_token: session.refreshToken } })
    return storeTokens(tokens).accessToken
  } catch (err) {
    if (err instanceof ApiError && err.status >= 400 && err.status < 500) throw new SignInRequired()
    throw err
  }
}

async function accessToken() {
  const session = loadSession()
  if (!session) throw new SignInRequired()
  if (session.accessToken && session.accessExpiresAt > Date.now()) return session.accessToken
  refreshing ??= refresh().finally(() => (refreshing = null))
  return refreshing
}

/** An authenticated request; renews the token once if the server says it expired. */
export async function api(method, path, options = {}) {
  const token = await accessToken()
  try {
    return await send(method, path, { ...options, token })
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) throw err
    updateSession({ accessExpiresAt: 0 })
    const renewed = await accessToken()
    return send(method, path, { ...options, token: renewed })
  }
}

/** Every item of a paginated list (`{items, total}` pages of up to 200). */
export async function apiAll(path, max = 5000) {
  const items = []
  const sep = path.includes("?") ? "&" : "?"
  for (let offset = 0; offset < max; offset += 200) {
    const page = await api("GET", `${path}${sep}limit=200&offset=${offset}`)
    items.push(...page.items)
    if (page.items.length < 200 || items.length >= (page.total ?? Infinity)) break
  }
  return items
}

/** Ends the session on the server; offline it just forgets the tokens. */
export async function logout() {
  const session = loadSession()
  if (!session?.refreshToken) return
  try {
    await send("POST", "/auth/logout", { token: session.accessToken, body: { refresh_token: session.refreshToken } })
  } catch {
    // offline or already expired: the tokens are dropped locally anyway
  }
}

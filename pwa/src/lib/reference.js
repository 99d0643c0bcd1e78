// Names the municipality's screens show beside ids: plans, service types, providers.
// Loaded once per page over REST (these screens work online only).
import { useEffect, useState } from "preact/hooks"
import { apiAll } from "./api.js"

let loading = null

async function load() {
  const optional = path => apiAll(path).catch(() => []) // a role may not list everything
  const [plans, serviceTypes, organizations] = await Promise.all([
    apiAll("/care-plans"),
    apiAll("/service-types"),
    optional("/organizations"),
  ])
  const byId = list => new Map(list.map(x => [x.id, x]))
  return {
    plans: byId(plans),
    serviceTypes: byId(serviceTypes),
    organizations: byId(organizations),
    providers: organizations.filter(o => o.kind === "provider"),
  }
}

/** The reference data, or null while it loads; `error` when it failed. */
export function useReference() {
  const [state, setState] = useState({ data: null, error: null })
  useEffect(() => {
    loading ??= load()
    loading.then(
      data => setState({ data, error: null }),
      error => {
        loading = null
        setState({ data: null, error })
      },
    )
  }, [])
  return state
}

/** `Anna Bianchi` or the pseudonym, as the caller may see. */
export function beneficiaryName(plan) {
  const b = plan?.beneficiary
  if (!b) return ""
  return [b.given_name, b.family_name].filter(Boolean).join(" ") || b.pseudonym
}

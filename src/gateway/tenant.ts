/**
 * Tenant resolution, done once per request at the edge: the configured header, else the literal
 * THANOS-TENANT header, else the default tenant. A tenant must be a single path element.
 */
import { ErrorCode, SluiceError } from '../errors.js';

/** resolveTenant returns the request's tenant or throws InvalidTenant (400). */
export function resolveTenant(headers: Map<string, string>, headerName: string, defaultTenant: string): string {
  let t = headers.get(headerName.toLowerCase()) ?? '';
  if (t === '') t = headers.get('thanos-tenant') ?? '';
  if (t === '') return defaultTenant;
  if (t.includes('/') || t.includes('\\') || t === '.' || t === '..' || t.length > 256 || /[\x00-\x1f]/.test(t)) {
    throw new SluiceError(ErrorCode.InvalidTenant, `invalid tenant ID: ${JSON.stringify(t.slice(0, 300))}`);
  }
  return t;
}

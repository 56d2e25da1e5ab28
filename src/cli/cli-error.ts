import { ApiError } from './api-client.js';

interface VerifyRefusal {
  reports?: { version: string; problems: string[] }[];
}

/**
 * The one line the CLI prints for a failed command: the cause, in the CLI's
 * own words (its flags, not the API's fields), and what to do about it.
 */
export function describeCliError(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 401) return `401 unauthorized: the API wants its token: pass --token <token> or set VMPOOL_TOKEN (the server's API_TOKEN / http.token)`;
    if (err.status === 409 && err.body.error === 'verify-failed') {
      const problems = (err.body as VerifyRefusal).reports?.flatMap((r) => r.problems) ?? [];
      return `409 verify-failed: refused: ${problems.join('; ') || err.message}; fix the registries (vmpool agent verify <version> shows them), or pass --force to roll out anyway`;
    }
    return `${err.status} ${err.body.error ?? ''}: ${err.message}`;
  }
  return err instanceof Error ? err.message : String(err);
}

import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/cli/api-client.js';
import { describeCliError } from '../../src/cli/cli-error.js';

describe("the CLI's one-line errors say the CLI's words", () => {
  it('a 401 names --token and VMPOOL_TOKEN, not the header', () => {
    const line = describeCliError(new ApiError(401, { error: 'unauthorized', message: 'missing or wrong bearer token (Authorization: Bearer <API_TOKEN>)' }));
    expect(line).toContain('--token');
    expect(line).toContain('VMPOOL_TOKEN');
    expect(line).not.toContain('\n');
  });

  it("the 409 of an unverified version says --force (the API's field is force)", () => {
    const body = { error: 'verify-failed', message: 'refused: secondary lacks 1.4.2 (verify it, fix the registries, or pass force)', reports: [{ version: '1.4.2', problems: ['secondary lacks 1.4.2'] }] };
    const line = describeCliError(new ApiError(409, body));
    expect(line).toContain('secondary lacks 1.4.2');
    expect(line).toContain('pass --force');
    expect(line).not.toMatch(/pass force/);
  });
});

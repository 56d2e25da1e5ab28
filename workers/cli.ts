#!/usr/bin/env node
import { buildProgram } from '../src/cli/program.js';
import { ApiError } from '../src/cli/api-client.js';
import { loadConfig, type Config } from '../src/config.js';

// The CLI works without a valid local config when --url is given, so config problems are not fatal here.
let config: Readonly<Config> | undefined;
try {
  config = loadConfig();
} catch {
  config = undefined;
}

const program = buildProgram({
  resolveApi: (flags) => {
    const host = !config || config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host;
    const url = flags.url ?? process.env.VMPOOL_URL ?? `http://${host}:${config?.http.port ?? 8080}`;
    const token = flags.token ?? process.env.VMPOOL_TOKEN ?? process.env.API_TOKEN ?? config?.http.token ?? undefined;
    return { url, token };
  },
  simUrl: (flags) => flags.simUrl ?? process.env.VMPOOL_SIM_URL ?? `http://${config?.sim.host ?? '127.0.0.1'}:${config?.sim.port ?? 4599}`,
  privateKeyPath: config?.ssh.privateKeyPath,
  print: (line) => process.stdout.write(`${line}\n`),
});

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const message = err instanceof ApiError ? `${err.status} ${err.body.error ?? ''}: ${err.message}` : err instanceof Error ? err.message : String(err);
  process.stderr.write(`vmpool: ${message}\n`);
  process.exitCode = 1;
}

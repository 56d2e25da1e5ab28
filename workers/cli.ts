#!/usr/bin/env node
import './quiet-sdk-notice.js';
import { buildProgram } from '../src/cli/program.js';
import { userInfo } from 'node:os';
import { describeCliError } from '../src/cli/cli-error.js';
import { loadConfig, type Config } from '../src/config.js';

// The CLI works without a valid local config when --url is given, so config problems are not fatal here;
// commands that need it (doctor) report them.
let config: Readonly<Config> | undefined;
let configError: unknown;
try {
  config = loadConfig();
} catch (err) {
  configError = err;
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
  progress: process.stderr,
  simProvider: config?.providers.find((p) => p.endpoint?.endsWith(`:${config?.sim.port}`))?.name ?? 'sim',
  leasedBy: userInfo().username,
  config: () => {
    if (!config) throw configError;
    return config;
  },
});

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.stderr.write(`vmpool: ${describeCliError(err)}\n`);
  process.exitCode = 1;
}

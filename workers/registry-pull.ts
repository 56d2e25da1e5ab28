// `registry-pull [--loopback-only] <registry-url> <image>:<tag> [file]`: the
// agent pull that the simulated VMs' image comes with (the sim puts it on their
// PATH, with --loopback-only: a simulated VM dials nothing outside 127.0.0.0/8
// and ::1, as the booter's SSH does in development and tests). Fetches the
// manifest over the Docker Registry HTTP API v2, bearer-token challenge
// included (the token only from the registry's own host), and writes it to
// `file` in the VM's scratch directory.
import { writeFileSync } from 'node:fs';
import { parseReference } from '../src/agent/reference.js';
import { fetchManifest } from '../src/agent/registry-client.js';

const args = process.argv.slice(2);
const loopbackOnly = args[0] === '--loopback-only';
const [url, ref, file = 'agent-manifest.json'] = loopbackOnly ? args.slice(1) : args;
const reference = ref ? parseReference(ref) : undefined;
if (!url || !reference) {
  process.stderr.write('usage: registry-pull [--loopback-only] <registry-url> <image>:<tag> [file]\n');
  process.exit(2);
}
try {
  const answer = await fetchManifest(url, reference.image, reference.tag, { method: 'GET', timeoutMs: 60_000, loopbackOnly });
  if (!answer.present) {
    process.stderr.write(`manifest unknown: ${ref} is not in ${url}\n`);
    process.exit(1);
  }
  writeFileSync(file, answer.body ?? '');
  process.stdout.write(`pulled ${ref} from ${url} (${answer.digest ?? 'no digest'})\n`);
} catch (err) {
  process.stderr.write(`cannot pull ${ref} from ${url}: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}

// Started by the simulated cloud (never by hand): runs the simulated VMs' commands
// from a small process, so forking them stays cheap. See src/sim/exec-host.ts.
import { serveExecRequests } from '../src/sim/exec-host.js';

serveExecRequests();

import { runRoles } from '../src/run.js';

await runRoles(['web']);

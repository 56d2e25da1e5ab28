import './quiet-sdk-notice.js';
import { runRoles } from '../src/run.js';

await runRoles(['producer']);

// Shared with the benchmarks: the one way to wait on a condition.
export { waitFor } from '../../src/local/wait-for.js';

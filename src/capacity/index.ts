/**
 * The capacity module's door: what `trellis bench` runs (the harness, its scenarios, local and
 * remote targets, the report) and the pieces bench/ shares with it (percentiles, provenance).
 */
export { runBench, type BenchReport, type HarnessOptions } from './harness.js';
export { readLastReport, saveLastReport, lastReportPath, type SavedBenchReport } from './last-report.js';
export { currentCommit, machineDescription, writeMarkdownSection } from './provenance.js';
export { renderReport } from './render.js';
export { scenarios, type PreparedScenario, type Scenario } from './scenarios/index.js';
export { percentile } from './stats.js';
export { GENERATOR_LIMITS } from './stepping.js';
export { startLocalTarget, type Target } from './target.js';
export { remoteTarget, type RemoteOptions } from './remote.js';
export {
  ASSUMPTION_SOURCES,
  SEED_ASSUMPTIONS,
  assumptionsProblem,
  type ActiveUsers,
  type UsageAssumptions,
} from './active-users.js';

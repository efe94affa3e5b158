/** The workloads `trellis bench` knows, each modelled on a plan our users wrote. */
import { authScenario } from './auth.js';
import { chatScenario } from './chat.js';
import { crudScenario } from './crud.js';
import type { Scenario } from './scenario.js';

export type { PreparedScenario, Scenario } from './scenario.js';

export const scenarios: Readonly<Record<string, Scenario>> = {
  chat: chatScenario,
  crud: crudScenario,
  auth: authScenario,
};

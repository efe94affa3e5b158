/** /metrics series of edge functions: calls by function and status, their time and CPU, cold starts. */
import { Counter, Histogram, type Registry } from 'prom-client';

export interface FunctionMetrics {
  observeCall(name: string, status: number, seconds: number, cpuSeconds: number): void;
  observeColdStart(name: string, seconds: number): void;
  countWorkerEnd(name: string, reason: string): void;
}

export function functionMetrics(registry: Registry): FunctionMetrics {
  const calls = new Counter({
    name: 'trellis_function_invocations_total',
    help: 'Edge function invocations answered, by function and status.',
    labelNames: ['function', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'trellis_function_duration_seconds',
    help: "Wall-clock time of an edge function invocation, to the end of its response's body.",
    labelNames: ['function'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 150],
    registers: [registry],
  });
  const cpu = new Histogram({
    name: 'trellis_function_cpu_seconds',
    help: "CPU time charged to an edge function invocation (its worker's running time, shared among concurrent calls).",
    labelNames: ['function'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2],
    registers: [registry],
  });
  const cold = new Histogram({
    name: 'trellis_function_cold_start_seconds',
    help: "Time from starting a function's worker to its module having loaded.",
    labelNames: ['function'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const ends = new Counter({
    name: 'trellis_function_worker_failures_total',
    help: 'Invocations ended by a limit or a crash, by function and reason (cpu, memory, crash, boot, timeout).',
    labelNames: ['function', 'reason'] as const,
    registers: [registry],
  });
  return {
    observeCall(name, status, seconds, cpuSeconds) {
      calls.inc({ function: name, status: String(status) });
      duration.observe({ function: name }, seconds);
      cpu.observe({ function: name }, cpuSeconds);
    },
    observeColdStart: (name, seconds) => cold.observe({ function: name }, seconds),
    countWorkerEnd: (name, reason) => ends.inc({ function: name, reason }),
  };
}

// The targets `npm run bench` checks (issues 9, 11 and 14), each against the figure of this run.
export const TARGETS = {
  vsCat: 0.5,
  vsGpg: 0.5,
  vsLoop: 100,
  latencyP99Ms: 10,
  peakRssMb: 150,
  decryptMBps: 100, // issue 11 (issue 9 asked 50)
  generateMs: 2000,
  startupMs: 300,
  trickleCpuPercent: 3,
  trickleLatencyP99Ms: 10,
  loneLineP99Ms: 5,
  trickleDecryptTextMBps: 20,
  idleRssMb: 50,
  idleWakeupsPerSecond: 1,
  gpgOpsPerSecondLowS2k: 200,
  efficiencyFlood: 1.3,
  efficiencyPerLine: 1.3,
  writerSlowdown1: 1.25,
  writerSlowdown8: 1.25,
};

const LOWER_IS_BETTER = new Set(['latencyP99Ms', 'peakRssMb', 'generateMs', 'startupMs', 'trickleCpuPercent', 'trickleLatencyP99Ms', 'loneLineP99Ms', 'idleRssMb', 'idleWakeupsPerSecond', 'efficiencyFlood', 'efficiencyPerLine', 'writerSlowdown1', 'writerSlowdown8']);

/** One row per target: what it asks, what was measured, whether it was met. */
export function judge(measured) {
  return Object.entries(TARGETS).map(([name, target]) => {
    const lower = LOWER_IS_BETTER.has(name);
    return { name, target: `${lower ? '<=' : '>='} ${target}`, measured: measured[name], met: lower ? measured[name] <= target : measured[name] >= target };
  });
}

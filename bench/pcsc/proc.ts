/** What bench/pcsc's scripts read off and do to other processes: CPU time, CPU pinning. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const TICK_US = 1e6 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));

/**
 * CPU time the process has used so far, µs: /proc/PID/stat's user and system
 * time, which (unlike each thread's schedstat) keeps the time of threads that
 * have ended (pcscd's per-client threads). Clock-tick resolution (10 ms): a run
 * of 5,000 calls is 15-30 ticks.
 */
export function cpuUs(pid: number): { user: number; sys: number } {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return { user: Number(f[11]) * TICK_US, sys: Number(f[12]) * TICK_US };
}

/** Pins every thread of a process (pcscd has one per client and reader; node has its pool). */
export function pin(pid: number, cpus: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
}

/** Every CPU, as taskset takes them. */
export function allCpus(): string {
  const n = Number(execFileSync('nproc', ['--all'], { encoding: 'utf8' }).trim());
  return n <= 1 ? '0' : `0-${n - 1}`;
}

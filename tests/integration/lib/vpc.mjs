// The throwaway test VPC of tests/vpc/ for integration tests: vpcUp starts
// one (network namespaces, an sshd bastion, PostgreSQL, web and echo
// servers; torn down by tests/vpc/up's owner watch should the test process
// die) and resolves to its VPC_* variables; vpcDown removes it.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

import { REPO_DIR } from './dev.mjs';

const run = promisify(execFile);
export const VPC_SCRIPTS = path.join(REPO_DIR, 'tests/vpc');

export async function vpcUp() {
  const { stdout } = await run(path.join(VPC_SCRIPTS, 'up'), ['--owner-pid', String(process.pid)], { timeout: 90000 });
  const dir = stdout.trim().split('\n').pop();
  // The env file is shell; bash reads it and lists the VPC_* names NUL-separated.
  const list = 'set -a; . "$1/env"; for v in ${!VPC_@}; do printf "%s=%s\\0" "$v" "${!v}"; done';
  const { stdout: vars } = await run('bash', ['-c', list, '_', dir]);
  const env = {};
  for (const entry of vars.split('\0').filter(Boolean)) {
    const eq = entry.indexOf('=');
    env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

export async function vpcDown(vpc) {
  await run(path.join(VPC_SCRIPTS, 'down'), [vpc.VPC_DIR]);
}

/** tests/vpc/sshd stop|start|freeze|thaw: the bastion dies, returns, hangs. */
export async function vpcSshd(vpc, action) {
  await run(path.join(VPC_SCRIPTS, 'sshd'), [action, vpc.VPC_DIR]);
}

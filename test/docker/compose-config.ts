import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '../..');
export const COMPOSE_FILE = path.join(REPO_ROOT, 'docker/compose.yml');

/**
 * Runs `docker-compose config` (compose: its path) on docker/compose.yml with the documented docker/.env.example
 * as the env file (so a local docker/.env cannot change the result) plus the given variables,
 * which take precedence over the file as they do for users.
 */
export function runComposeConfig(compose: string, vars: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const args = ['--env-file', path.join(REPO_ROOT, 'docker/.env.example'), '-f', COMPOSE_FILE, 'config'];
  const result = spawnSync(compose, args, {
    cwd: REPO_ROOT,
    // Only PATH/HOME from the outer environment: a CLUSTER_TOKEN set in the shell must not
    // hide a missing one.
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...vars },
    encoding: 'utf8',
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * YAML text to a plain object. js-yaml is not a dependency; python3-yaml is, because Debian's
 * docker-compose package is written in Python and depends on it.
 */
export function parseYaml(text: string): unknown {
  const json = execFileSync(
    'python3',
    ['-c', 'import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'],
    { input: text, encoding: 'utf8' },
  );
  return JSON.parse(json);
}

import { accessSync, constants } from 'node:fs';
import path from 'node:path';

/**
 * Tests that need a program the machine may lack (a browser, docker-compose, the AWS CLI...)
 * gate themselves here. A missing tool skips its tests with a loud message naming the tool, its
 * Debian package and the command that installs it, so `npm ci && npm test` passes on a fresh
 * machine; under REQUIRE_ALL_TOOLS=1 (CI, which installs them all) a missing tool fails instead.
 *
 * Each tool's location can be overridden with TOOL_PATH_<NAME> (e.g. TOOL_PATH_CHROMIUM), which
 * is also how the gate itself is tested with a tool that does not exist.
 */
export interface ToolSpec {
  /** What a person calls it. */
  name: string;
  /** An absolute path, or a command looked up on PATH. */
  command: string;
  /** The Debian package that provides it. */
  debianPackage: string;
  /** Suffix of the TOOL_PATH_<NAME> override. */
  envName: string;
}

export const TOOLS = {
  chromium: { name: 'Chromium', command: '/usr/bin/chromium', debianPackage: 'chromium', envName: 'CHROMIUM' },
  dockerCompose: { name: 'docker-compose', command: 'docker-compose', debianPackage: 'docker-compose', envName: 'DOCKER_COMPOSE' },
  openssl: { name: 'the openssl CLI', command: 'openssl', debianPackage: 'openssl', envName: 'OPENSSL' },
  aws: { name: 'the AWS CLI', command: 'aws', debianPackage: 'awscli', envName: 'AWS' },
  rclone: { name: 'rclone', command: 'rclone', debianPackage: 'rclone', envName: 'RCLONE' },
  s3cmd: { name: 's3cmd', command: 's3cmd', debianPackage: 's3cmd', envName: 'S3CMD' },
  strace: { name: 'strace', command: 'strace', debianPackage: 'strace', envName: 'STRACE' },
} satisfies Record<string, ToolSpec>;

export type ToolLookup = { found: true; path: string } | { found: false; message: string };

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where the tool is, or the message that says what is missing and how to install it. */
export function findTool(tool: ToolSpec, env: NodeJS.ProcessEnv = process.env): ToolLookup {
  const command = env[`TOOL_PATH_${tool.envName}`] || tool.command;
  const candidates = command.includes('/')
    ? [command]
    : (env.PATH ?? '').split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, command));
  const found = candidates.find(executable);
  if (found) return { found: true, path: found };
  return {
    found: false,
    message:
      `${tool.name} is missing (${command} not found): install the Debian package "${tool.debianPackage}" with ` +
      `"apt-get install -y ${tool.debianPackage}"`,
  };
}

/**
 * The tool's path, or undefined after announcing that the tests needing it are skipped. Throws
 * instead when REQUIRE_ALL_TOOLS=1: a missing tool must not pass silently in CI.
 */
export function toolOrSkip(tool: ToolSpec, suite: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const lookup = findTool(tool, env);
  if (lookup.found) return lookup.path;
  if (env.REQUIRE_ALL_TOOLS === '1') {
    throw new Error(`REQUIRE_ALL_TOOLS=1 and ${lookup.message} (needed by ${suite})`);
  }
  const banner = '!'.repeat(100);
  // Straight to stderr: jest drops console output of a test file whose tests were all skipped.
  process.stderr.write(`\n${banner}\nSKIPPED ${suite}: ${lookup.message}\n${banner}\n`);
  return undefined;
}

/** `describe` when the tool was found, `describe.skip` (its tests reported as skipped) when not. */
export function describeIfFound(toolPath: string | undefined): jest.Describe {
  return toolPath === undefined ? describe.skip : describe;
}

/** Chromium's flags for the browser tests: headless, offline, no GPU, no sandbox (root in CI). */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];

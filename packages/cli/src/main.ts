#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { ConfigError, StartupError, type RunningPlatform } from '@nova/platform';
import { certsDev, migrate, serve, up, USAGE } from './commands.js';

// The one place that reads process.env: everything below receives it as a value.
const env = { ...process.env };

async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { out: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  switch (command) {
    case 'up':
      return keepRunning(await up(env));
    case 'serve':
      return keepRunning(await serve(rest[0], env));
    case 'migrate':
      await migrate(rest, env);
      process.stdout.write('migrations applied\n');
      return;
    case 'certs': {
      if (rest[0] !== 'dev') throw new StartupError('usage: nova certs dev [--out DIR]');
      const dir = await certsDev(values.out, process.cwd());
      process.stdout.write(`development certificates written to ${dir}\n`);
      return;
    }
    default:
      throw new StartupError(`unknown command "${command}"\n\n${USAGE}`);
  }
}

/** Stops gracefully on SIGINT/SIGTERM; a second signal exits at once. */
function keepRunning(platform: RunningPlatform): void {
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) process.exit(1);
    signalled = true;
    platform.logger.info({ signal }, 'shutting down');
    platform.stop().then(
      () => process.exit(0),
      (err) => {
        platform.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof StartupError || err instanceof ConfigError) {
    process.stderr.write(`nova: ${err.message}\n`);
  } else {
    process.stderr.write(`nova: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
  }
  process.exit(1);
});

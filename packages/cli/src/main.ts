#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { AppError, ConfigError, StartupError, type RunningPlatform } from '@nova/platform';
import { certsDev, keysList, keysRotate, migrate, serve, up, USAGE, usersRole } from './commands.js';

// The one place that reads process.env: everything below receives it as a value.
const env = { ...process.env };

async function main(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { out: { type: 'string' }, 'activate-in': { type: 'string' }, now: { type: 'boolean' }, force: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (err) {
    throw new StartupError(`${(err as Error).message}\n\n${USAGE}`);
  }
  const { positionals, values } = parsed;
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
    case 'keys': {
      if (rest[0] === 'rotate') process.stdout.write(`${await keysRotate({ now: values.now, activateIn: values['activate-in'], force: values.force }, env)}\n`);
      else if (rest[0] === 'list') process.stdout.write(`${await keysList(env)}\n`);
      else throw new StartupError('usage: nova keys rotate [--activate-in SECONDS | --now] [--force] | nova keys list');
      return;
    }
    case 'users': {
      if (rest[0] !== 'role') throw new StartupError('usage: nova users role <user id | username | email> <user|moderator|admin>');
      process.stdout.write(`${await usersRole(rest[1], rest[2], env)}\n`);
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
  if (err instanceof StartupError || err instanceof ConfigError || (err instanceof AppError && !err.isServerError)) {
    process.stderr.write(`nova: ${err.message}\n`);
  } else {
    process.stderr.write(`nova: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
  }
  process.exit(1);
});

import { Command } from 'commander';
import { loadConfig, resolveMasterSecret, type Config, type ConfigFlags } from '../config/config.js';
import { createLogger } from '../log.js';
import { createMailtrail } from '../mailtrail.js';
import { readFile } from 'node:fs/promises';
import { MailtrailError } from '../core/errors.js';
import type { StatusMapping } from '../core/status-mapping.js';
import { integrationView } from '../views/integration.js';
import { openStore } from '../store/index.js';
import { isStorageUnavailable } from '../store/storage-errors.js';
import type { Store } from '../store/types.js';

/** The "## Set up" section of a provider's guide in docs/providers, as shipped with the package. */
async function setupSteps(provider: string): Promise<string | null> {
  const guide = await readFile(new URL(`../../docs/providers/${provider}.md`, import.meta.url), 'utf8').catch(() => null);
  const section = guide?.split(/^## /m).find((part) => part.startsWith('Set up'));
  return section ? `Set up\n${section.slice('Set up'.length).trim()}` : null;
}

async function onlyEnvironment(store: Store): Promise<string> {
  const environments = await store.listEnvironments();
  if (environments.length === 1) return environments[0]!.id;
  return fail(environments.length === 0 ? 'no environment yet: run mailtrail init first' : `${environments.length} environments: choose one with --environment`);
}

function fail(message: string): never {
  throw new MailtrailError('MT_ERR_CONFIG', message);
}

/** The `mailtrail` command line. */
export async function main(argv: string[]): Promise<void> {
  const program = new Command()
    .name('mailtrail')
    .description('Email activity tracking hub: verified provider webhooks, per-message timelines, one event vocabulary')
    .showHelpAfterError();

  const withConfigFlags = (command: Command) =>
    command
      .option('--port <port>', 'HTTP port (env PORT, default 3000)')
      .option('--host <host>', 'interface to listen on (env HOST, default 0.0.0.0)')
      .option('--database-url <url>', 'postgres:// URL (env DATABASE_URL); unset: embedded SQLite')
      .option('--data-dir <dir>', 'embedded database and generated secret (env MAILTRAIL_DATA_DIR, default ./.mailtrail)')
      .option('--public-url <url>', 'base of the URLs handed out (env PUBLIC_URL)')
      .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent (env LOG_LEVEL, default info)');

  withConfigFlags(program.command('serve').description('run the HTTP server (migrations run first)')).action(async (flags: ConfigFlags) => {
    await serve(loadConfig(process.env, flags));
  });

  withConfigFlags(program.command('worker').description('send outbound webhooks only (no HTTP server); run several on one PostgreSQL')).action(
    async (flags: ConfigFlags) => {
      await serve(loadConfig(process.env, flags), 'worker');
    },
  );

  withConfigFlags(program.command('init').description('create an environment and a secret API key'))
    .option('--name <name>', 'environment name', 'default')
    .option('--json', 'print {"environmentId", "apiKey"} as JSON and nothing else')
    .action(async (flags: ConfigFlags & { name: string; json?: boolean }) => {
      const config = loadConfig(process.env, flags);
      const mailtrail = await createMailtrail({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, secret: resolveMasterSecret(config), publicUrl: config.publicUrl });
      try {
        const created = await mailtrail.createEnvironment(flags.name);
        if (flags.json) {
          process.stdout.write(JSON.stringify(created) + '\n');
        } else {
          process.stdout.write(
            `Environment ${created.environmentId} created.\n` +
              `API key (shown once, keep it secret): ${created.apiKey}\n` +
              `Use it as:  Authorization: ApiKey ${created.apiKey}\n`,
          );
        }
      } finally {
        await mailtrail.close();
      }
    });

  const integrations = program.command('integrations').description('connect providers');
  withConfigFlags(integrations.command('add <provider>').description("create an integration and print its inbound URL and the provider's setup steps"))
    .option('--environment <id>', 'environment to add it to (default: the only one)')
    .option('--name <name>', 'integration name (default: the provider name)')
    .option('--signing-key <key>', "the provider's verification key, for providers that sign (or set it later with PATCH)")
    .option('--allow-unsigned', 'accept unsigned requests while no signing key is set (not recommended)')
    .option('--status-mapping <mapping>', 'contract (default: the contract platform\'s status tables) or precise (Mailtrail\'s finer mapping)')
    .option('--topic-arn <arn...>', 'Amazon SES: the SNS topics this integration accepts (required; * stands for any region, account or topic)')
    .option('--json', 'print the integration as JSON and nothing else')
    .action(async (provider: string, flags: ConfigFlags & { environment?: string; name?: string; signingKey?: string; allowUnsigned?: boolean; statusMapping?: string; topicArn?: string[]; json?: boolean }) => {
      const config = loadConfig(process.env, flags);
      const mailtrail = await createMailtrail({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, secret: resolveMasterSecret(config), publicUrl: config.publicUrl });
      try {
        const environmentId = flags.environment ?? (await onlyEnvironment(mailtrail.store));
        if (!(await mailtrail.store.getEnvironment(environmentId))) fail(`no environment ${environmentId}`);
        const adapter = mailtrail.providers.get(provider);
        if (!adapter) fail(`unknown provider "${provider}"; one of: ${mailtrail.providers.list().map((known) => known.id).join(', ')}`);
        const { integration, credentials } = await mailtrail.integrations.create(environmentId, {
          providerId: provider,
          name: flags.name ?? adapter.displayName,
          signingKey: flags.signingKey,
          allowUnsigned: flags.allowUnsigned,
          statusMapping: flags.statusMapping as StatusMapping | undefined,
          settings: flags.topicArn ? { topicArns: flags.topicArn } : undefined,
        });
        const view = integrationView(integration, config.publicUrl, adapter.auth, credentials);
        if (flags.json) {
          process.stdout.write(JSON.stringify(view) + '\n');
          return;
        }
        const lines = [`${adapter.displayName} integration ${integration.id} created in ${environmentId}.`, `Inbound URL: ${view.inboundWebhookUrl}`];
        if (view.credentials && view.authenticatedWebhookUrl) {
          lines.push(
            `Credentials (shown once, stored encrypted): username ${view.credentials.username}, password ${view.credentials.password}`,
            `Inbound URL with the credentials: ${view.authenticatedWebhookUrl}`,
          );
        }
        if (adapter.auth === 'signature' && !view.hasSigningKey) {
          lines.push(`No signing key yet: requests are refused until you set one (mailtrail integrations add … --signing-key, or PATCH /v1/integrations/${integration.id}).`);
        }
        const steps = await setupSteps(provider);
        lines.push('', steps ? steps.replaceAll('<inbound URL>', view.authenticatedWebhookUrl ?? view.inboundWebhookUrl) : `See docs/providers for ${provider}.`);
        process.stdout.write(lines.join('\n') + '\n');
      } finally {
        await mailtrail.close();
      }
    });

  withConfigFlags(program.command('migrate').description('apply database migrations and exit')).action(async (flags: ConfigFlags) => {
    const config = loadConfig(process.env, flags);
    const store = openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
    try {
      await store.migrate();
      process.stderr.write('mailtrail: database is up to date\n');
    } finally {
      await store.close();
    }
  });

  await program.parseAsync(argv);
}

/** `serve` runs the HTTP server and an outbound worker; `worker` runs only the worker, to scale sending out. */
async function serve(config: Config, mode: 'serve' | 'worker' = 'serve'): Promise<void> {
  const log = createLogger(config.logLevel);
  const mailtrail = await createMailtrail({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    secret: resolveMasterSecret(config),
    publicUrl: config.publicUrl,
    bodyLimit: config.bodyLimit,
    snsCertDir: config.snsCertDir,
    logger: log,
    processMetrics: true,
    outbound: config.outbound,
    tracking: config.tracking,
  });
  if (mode === 'serve') {
    const server = await mailtrail.listen({ port: config.port, host: config.host });
    log.info({ url: server.url, publicUrl: config.publicUrl, database: config.databaseUrl ? 'postgres' : 'sqlite' }, 'mailtrail is listening');
  }
  // The worker's own timer does not hold the process open (an embedding app decides that); a worker process must.
  const alive = mode === 'worker' ? setInterval(() => undefined, 60_000) : undefined;
  if (mode === 'worker') log.info({ database: config.databaseUrl ? 'postgres' : 'sqlite', concurrency: config.outbound.concurrency }, 'mailtrail worker is sending the outbox');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    clearInterval(alive);
    mailtrail.close().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  // The last line of defence: a database error that escaped every handler only means the database is away, and the
  // store recovers from that by itself; anything else is a bug, and ends the process as Node would have.
  const escaped = (error: unknown) => {
    if (isStorageUnavailable(error)) return void log.warn({ err: error }, 'a database error escaped its handler; carrying on');
    log.fatal({ err: error }, 'unhandled error');
    process.exit(1);
  };
  process.on('uncaughtException', escaped);
  process.on('unhandledRejection', escaped);
}

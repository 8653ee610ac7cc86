import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { newId, StartupError, type AppEnv, type Logger } from '@nova/platform';

export interface Mail {
  to: string;
  subject: string;
  text: string;
}

export interface Mailer {
  send(mail: Mail): Promise<void>;
  close(): void;
}

/**
 * SMTP through nodemailer when SMTP_URL is set. Without it, development and test write each message to the
 * log and to MAIL_DIR (one .eml file per message) so links can be followed locally; staging and
 * production refuse to start without a relay.
 */
export function createMailer(config: { SMTP_URL: string | undefined; MAIL_FROM: string; MAIL_DIR: string }, appEnv: AppEnv, logger: Logger): Mailer {
  if (config.SMTP_URL) {
    const transport = nodemailer.createTransport(config.SMTP_URL);
    return {
      async send(mail) {
        await transport.sendMail({ from: config.MAIL_FROM, ...mail });
      },
      close: () => transport.close(),
    };
  }
  if (appEnv !== 'development' && appEnv !== 'test') {
    throw new StartupError(`SMTP_URL is required when APP_ENV=${appEnv}: verification and password-reset mail must be deliverable`);
  }
  return {
    async send(mail) {
      mkdirSync(config.MAIL_DIR, { recursive: true });
      const file = join(config.MAIL_DIR, `${newId()}.eml`);
      writeFileSync(file, `From: ${config.MAIL_FROM}\nTo: ${mail.to}\nSubject: ${mail.subject}\n\n${mail.text}\n`, { mode: 0o600 });
      logger.info({ to: mail.to, subject: mail.subject, file, body: mail.text }, 'mail (no SMTP_URL: written to MAIL_DIR)');
    },
    close: () => undefined,
  };
}

import nodemailer, { type Transporter } from 'nodemailer';
import type { Logger } from '../core/logger.js';

export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  html?: string;
  headers?: Record<string, string>;
}

/** `smtp://user:pass@host:587` (STARTTLS when offered) or `smtps://…:465` (TLS from the start). */
export function smtpOptions(url: string) {
  const u = new URL(url);
  const secure = u.protocol === 'smtps:';
  return {
    host: u.hostname,
    port: Number(u.port || (secure ? 465 : 587)),
    secure,
    ...(u.username
      ? { auth: { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) } }
      : {}),
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 20_000,
  };
}

/** Sends mail over SMTP (nodemailer). Without SMTP configured, mail is logged and dropped. */
export class Mailer {
  private readonly transport: Transporter | undefined;

  constructor(
    smtpUrl: string | undefined,
    private readonly from: string,
    private readonly logger: Logger,
  ) {
    this.transport = smtpUrl ? nodemailer.createTransport(smtpOptions(smtpUrl)) : undefined;
  }

  get enabled(): boolean {
    return this.transport !== undefined;
  }

  /** Send; a failure is logged, never thrown to the caller (mail never fails the user's action). */
  async send(mail: OutgoingMail): Promise<boolean> {
    if (!this.transport) {
      this.logger.warn({ to: mail.to, subject: mail.subject }, 'mail not sent: no SMTP_URL configured');
      return false;
    }
    try {
      await this.transport.sendMail({ from: this.from, ...mail });
      return true;
    } catch (err) {
      this.logger.error({ err, to: mail.to, subject: mail.subject }, 'sending mail failed');
      return false;
    }
  }

  close(): void {
    this.transport?.close();
  }
}

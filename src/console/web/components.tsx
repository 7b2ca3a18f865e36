/** Pieces every view uses: times, errors, confirmations, paging, states. */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { RequestFailed } from './api.js';
import { localTime } from './format.js';
import { useI18n, type MessageKey } from './i18n.js';
import type { JobStatus } from './types.js';

/** A time in the viewer's locale; the exact UTC time on hover. */
export function Time({ iso }: { iso: string | null }) {
  const { locale } = useI18n();
  if (iso === null) return <span class="muted">—</span>;
  const utc = Number.isNaN(Date.parse(iso)) ? iso : new Date(iso).toISOString();
  return (
    <time dateTime={utc} title={utc}>
      {localTime(iso, locale)}
    </time>
  );
}

const STATUS_KEYS: Readonly<Record<JobStatus, MessageKey>> = {
  INIT: 'status.INIT',
  RUNNING: 'status.RUNNING',
  SUCCESS: 'status.SUCCESS',
  FAIL: 'status.FAIL',
};

/** The button that clears one row's failure, named for screen readers by `label`. */
export function ClearOneButton({ label, onClick }: { label: string; onClick: () => void }) {
  const { t } = useI18n();
  return (
    <button type="button" class="small danger-outline" aria-label={label} onClick={onClick}>
      {t('action.clear')}
    </button>
  );
}

/** A job status in words and colour (never colour alone). */
export function StatusBadge({ status }: { status: JobStatus }) {
  const { t } = useI18n();
  return <span class={`badge badge-${status.toLowerCase()}`}>{t(STATUS_KEYS[status])}</span>;
}

/**
 * An error as the API gave it: status and code, the message, and the request id with a
 * button to copy it for a bug report. A server that cannot be reached says so.
 */
export function ErrorBox({ error, onDismiss }: { error: RequestFailed; onDismiss?: () => void }) {
  const { t } = useI18n();
  const [copied, setCopied] = useState(false);
  const detail = error.error;
  if (detail === null) {
    return (
      <div class="error" role="alert">
        <p class="error-title">{t('error.unreachable.title')}</p>
        <p>{t('error.unreachable.body', { origin: location.origin })}</p>
      </div>
    );
  }
  const copy = async () => {
    if (detail.requestId === null) return;
    try {
      await navigator.clipboard.writeText(detail.requestId);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  };
  return (
    <div class="error" role="alert">
      <p class="error-title">
        {t('error.title', { status: detail.status })}
        {detail.code !== '' && <code class="error-code">{detail.code}</code>}
      </p>
      <p class="error-message">{detail.message}</p>
      {detail.requestId !== null && (
        <p class="error-request">
          {t('error.requestId')} <code>{detail.requestId}</code>{' '}
          <button type="button" class="link-button" onClick={copy}>
            {copied ? t('action.copied') : t('action.copy')}
          </button>
        </p>
      )}
      {onDismiss && (
        <button type="button" class="link-button" onClick={onDismiss}>
          {t('action.dismiss')}
        </button>
      )}
    </div>
  );
}

/**
 * Asks before something that cannot be undone, in a modal dialog (focus stays inside,
 * Escape cancels). `confirm` is run with the dialog still open, so its error shows there.
 */
export function ConfirmDialog(props: {
  title: string;
  message: string;
  confirmLabel: string;
  busy: boolean;
  error: RequestFailed | null;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const { t } = useI18n();
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const element = dialog.current;
    if (element && !element.open) element.showModal();
    return () => element?.close();
  }, []);
  return (
    <dialog
      ref={dialog}
      class="dialog"
      aria-labelledby="confirm-title"
      onCancel={(event) => {
        event.preventDefault();
        props.onCancel();
      }}
    >
      <h2 id="confirm-title">{props.title}</h2>
      <p>{props.message}</p>
      {props.error && <ErrorBox error={props.error} />}
      <div class="dialog-buttons">
        <button type="button" onClick={props.onCancel}>
          {t('action.cancel')}
        </button>
        <button type="button" class="danger" disabled={props.busy} onClick={props.onConfirm}>
          {props.confirmLabel}
        </button>
      </div>
    </dialog>
  );
}

/** Offset paging: where this page sits in the total, and the way to the others. */
export function Pager(props: { offset: number; limit: number; total: number; onPage: (offset: number) => void; onLimit: (limit: number) => void }) {
  const { t } = useI18n();
  const { offset, limit, total } = props;
  const last = Math.min(offset + limit, total);
  return (
    <nav class="pager" aria-label={t('pager.label')}>
      <span aria-live="polite">{total === 0 ? t('pager.none') : t('pager.range', { first: offset + 1, last, total })}</span>
      <button type="button" disabled={offset === 0} onClick={() => props.onPage(Math.max(0, offset - limit))}>
        {t('pager.previous')}
      </button>
      <button type="button" disabled={offset + limit >= total} onClick={() => props.onPage(offset + limit)}>
        {t('pager.next')}
      </button>
      <label>
        {t('pager.size')}{' '}
        <select value={String(limit)} onChange={(event) => props.onLimit(Number((event.target as HTMLSelectElement).value))}>
          {[20, 50, 100].map((n) => (
            <option value={String(n)}>{n}</option>
          ))}
        </select>
      </label>
    </nav>
  );
}

/** What to show when a list is empty: what it means, and what to do next. */
export function Empty({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="empty">
      <p class="empty-title">{title}</p>
      {children}
    </div>
  );
}

/** A view's heading, focused when the view opens so a screen reader announces it. */
export function PageTitle({ children, title }: { children: ComponentChildren; title: string }) {
  const { t } = useI18n();
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · ${t('app.name')}`;
    heading.current?.focus({ preventScroll: true });
  }, [title]);
  return (
    <h1 ref={heading} tabIndex={-1}>
      {children}
    </h1>
  );
}

/** A short announcement for screen readers and eyes: what an action did. */
export function Notice({ text }: { text: string }) {
  return (
    <p class="notice" role="status">
      {text}
    </p>
  );
}

/**
 * Sign-in: paste a token. It is checked with GET /taskcenter/v1/me, then kept in this
 * tab's sessionStorage only: never in a URL, never logged.
 */
import { useState } from 'preact/hooks';
import { getJson, RequestFailed } from '../api.js';
import { ErrorBox, PageTitle } from '../components.js';
import { useI18n } from '../i18n.js';
import type { Me } from '../types.js';

export function SignIn({ onSignedIn, expired }: { onSignedIn: (token: string, me: Me) => void; expired: boolean }) {
  const { t } = useI18n();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<RequestFailed | null>(null);
  const title = t('signIn.title');
  return (
    <section class="sign-in">
      <PageTitle title={title}>{title}</PageTitle>
      {expired && <p class="notice">{t('signIn.expired')}</p>}
      <form
        onSubmit={async (event) => {
          event.preventDefault();
          const token = String(new FormData(event.currentTarget).get('token') ?? '').trim();
          if (token === '') return;
          setBusy(true);
          setError(null);
          try {
            onSignedIn(token, await getJson<Me>('/taskcenter/v1/me', { token }));
          } catch (caught) {
            setError(caught instanceof RequestFailed ? caught : new RequestFailed(null));
          } finally {
            setBusy(false);
          }
        }}
      >
        <label for="token">{t('signIn.token')}</label>
        <input id="token" name="token" type="password" autoComplete="off" spellcheck={false} required aria-describedby="token-help" />
        <p id="token-help" class="sub">
          {t('signIn.help')}
        </p>
        <button type="submit" class="primary" disabled={busy}>
          {t('signIn.submit')}
        </button>
      </form>
      {error && <ErrorBox error={error} />}
    </section>
  );
}

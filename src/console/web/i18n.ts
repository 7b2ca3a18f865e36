/**
 * The console's two languages: every string comes from a catalogue (messages/en.ts is
 * the source; messages/zh.ts must have every key, which the types check), and times are
 * shown in the viewer's locale and time zone.
 */
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import { en, type MessageKey } from './messages/en.js';
import { zh } from './messages/zh.js';

export type { MessageKey };
export const LANGUAGES = ['en', 'zh'] as const;
export type Lang = (typeof LANGUAGES)[number];

const CATALOGUES: Readonly<Record<Lang, Readonly<Record<MessageKey, string>>>> = { en, zh };
const LOCALES: Readonly<Record<Lang, string>> = { en: 'en', zh: 'zh-CN' };
const LANG_KEY = 'taskcenter.lang';

export interface I18n {
  readonly lang: Lang;
  /** The BCP 47 locale for Intl formatting. */
  readonly locale: string;
  /**
   * The message for `key`, `{name}` replaced by `params[name]`. A message with two forms
   * (`one|other`) takes the one `params.n` needs.
   */
  t(key: MessageKey, params?: Readonly<Record<string, string | number>>): string;
}

export function makeI18n(lang: Lang): I18n {
  const catalogue = CATALOGUES[lang];
  const locale = LOCALES[lang];
  const plurals = new Intl.PluralRules(locale);
  const numbers = new Intl.NumberFormat(locale);
  return {
    lang,
    locale,
    t(key, params = {}) {
      let message = catalogue[key];
      if (message.includes('|')) {
        const [one = '', other = one] = message.split('|');
        message = typeof params.n === 'number' && plurals.select(params.n) === 'one' ? one : other;
      }
      return message.replace(/\{(\w+)\}/g, (whole, name: string) => {
        const value = params[name];
        if (value === undefined) return whole;
        return typeof value === 'number' ? numbers.format(value) : value;
      });
    },
  };
}

/** The language chosen before in this browser, else the browser's own when it is Chinese, else English. */
export function initialLang(): Lang {
  const stored = localStorage.getItem(LANG_KEY);
  if (stored === 'en' || stored === 'zh') return stored;
  return navigator.languages.some((l) => l.toLowerCase().startsWith('zh')) ? 'zh' : 'en';
}

export function rememberLang(lang: Lang): void {
  localStorage.setItem(LANG_KEY, lang);
  document.documentElement.lang = LOCALES[lang];
}

export const I18nContext = createContext<I18n>(makeI18n('en'));

export function useI18n(): I18n {
  return useContext(I18nContext);
}

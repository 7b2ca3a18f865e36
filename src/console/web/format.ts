/** Times and durations in the viewer's locale and time zone. */

const dateTimes = new Map<string, Intl.DateTimeFormat>();

/** `iso` as the viewer reads a date and time (their locale, their time zone). */
export function localTime(iso: string, locale: string): string {
  let format = dateTimes.get(locale);
  if (format === undefined) {
    format = new Intl.DateTimeFormat(locale, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    dateTimes.set(locale, format);
  }
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : format.format(date);
}

/** KPS task times are epoch milliseconds as text: the ISO form of one. */
export function isoOfMillis(text: string): string {
  const date = new Date(Number(text));
  return Number.isNaN(date.getTime()) ? text : date.toISOString();
}

/** A duration as the locale says it: `1 hr 2 min 3 sec`, `1小时2分钟3秒`; under a second in milliseconds. */
export function duration(ms: number, locale: string): string {
  const unit = (value: number, name: string) => new Intl.NumberFormat(locale, { style: 'unit', unit: name, unitDisplay: 'short' }).format(value);
  if (ms < 1000) return unit(Math.max(0, Math.round(ms)), 'millisecond');
  const seconds = Math.round(ms / 1000);
  const parts: string[] = [];
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  if (hours > 0) parts.push(unit(hours, 'hour'));
  if (minutes > 0) parts.push(unit(minutes, 'minute'));
  if (seconds % 60 > 0 || parts.length === 0) parts.push(unit(seconds % 60, 'second'));
  return parts.join(locale.startsWith('zh') ? '' : ' ');
}

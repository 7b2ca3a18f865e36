/**
 * A project at a glance, from the summary's exact counters: current SDRS failures by
 * resource type and by failure status, KPS failed and running totals, and failures per
 * hour over the last 7 days as a chart.
 */
import { query, seg } from '../api.js';
import { Empty, ErrorBox, PageTitle } from '../components.js';
import { localTime } from '../format.js';
import { useRead } from '../hooks.js';
import { useI18n } from '../i18n.js';
import { projectPath } from '../router.js';
import { useSession } from '../session.js';
import { FAILURE_STATUSES, RESOURCE_TYPES, type Summary } from '../types.js';
import { resourceTypeKey } from './sdrs-failures.js';

const SUMMARY_MS = 10_000;

export function Overview({ project }: { project: string }) {
  const { t } = useI18n();
  const session = useSession();
  const summary = useRead<Summary>(`/taskcenter/v1/projects/${seg(project)}/summary`, { everyMs: SUMMARY_MS });
  const data = summary.data;
  const title = t('overview.title');
  return (
    <section>
      <PageTitle title={title}>{title}</PageTitle>
      {summary.error && <ErrorBox error={summary.error} />}
      {!data && !summary.error && <p class="muted">{t('state.loading')}</p>}
      {data && (
        <>
          <div class="cards">
            {data.sdrs && (
              <div class="card">
                <h2>{t('overview.sdrsByType')}</h2>
                <table class="counts">
                  <tbody>
                    {RESOURCE_TYPES.map((type) => (
                      <tr key={type}>
                        <th scope="row">
                          {session.can('sdrs:failureJobs:list') ? (
                            <a href={projectPath(project, 'sdrs-failures', type === 'server_groups' ? '' : query({ resource_type: type }))}>
                              {t(resourceTypeKey(type))}
                            </a>
                          ) : (
                            t(resourceTypeKey(type))
                          )}
                        </th>
                        <td class="num">{data.sdrs!.by_resource_type[type]}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
            {data.sdrs && (
              <div class="card">
                <h2>{t('overview.sdrsByStatus')}</h2>
                <table class="counts">
                  <tbody>
                    {FAILURE_STATUSES.filter((status) => data.sdrs!.by_failure_status[status] > 0).map((status) => (
                      <tr key={status}>
                        <th scope="row">{t(`failureStatus.${status}`)}</th>
                        <td class="num">{data.sdrs!.by_failure_status[status]}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
                {FAILURE_STATUSES.every((status) => data.sdrs!.by_failure_status[status] === 0) && <p class="muted">{t('overview.noSdrsFailures')}</p>}
              </div>
            )}
            {data.kps && (
              <div class="card">
                <h2>{t('overview.kps')}</h2>
                <table class="counts">
                  <tbody>
                    {data.kps.failed !== null && (
                      <tr>
                        <th scope="row">
                          <a href={projectPath(project, 'kps-failed')}>{t('kps.failed.title')}</a>
                        </th>
                        <td class="num">{data.kps.failed}</td>
                      </tr>
                    )}
                    {data.kps.running !== null && (
                      <tr>
                        <th scope="row">
                          <a href={projectPath(project, 'kps-running')}>{t('kps.running.title')}</a>
                        </th>
                        <td class="num">{data.kps.running}</td>
                      </tr>
                    )}
                  </tbody>
                </table>
              </div>
            )}
          </div>
          {!data.sdrs && !data.kps && (
            <Empty title={t('overview.nothingReadable')}>
              <p>{t('overview.nothingReadableHelp')}</p>
            </Empty>
          )}
          {(data.failures_per_hour.sdrs || data.failures_per_hour.kps) && <HourlyChart hours={data.failures_per_hour} />}
        </>
      )}
    </section>
  );
}

const WIDTH = 840;
const HEIGHT = 200;
const LEFT = 36;
const BOTTOM = 24;

/** Failures per hour over 7 days, SDRS and KPS stacked; described in words for screen readers. */
function HourlyChart({ hours }: { hours: Summary['failures_per_hour'] }) {
  const { t, locale } = useI18n();
  const from = Date.parse(hours.from);
  const sdrs = hours.sdrs ?? [];
  const kps = hours.kps ?? [];
  const count = Math.max(sdrs.length, kps.length);
  const totals = Array.from({ length: count }, (_, i) => (sdrs[i] ?? 0) + (kps[i] ?? 0));
  const total = totals.reduce((a, b) => a + b, 0);
  const peak = Math.max(0, ...totals);
  const peakAt = totals.indexOf(peak);
  const top = Math.max(1, peak);
  const barWidth = (WIDTH - LEFT) / count;
  const plotHeight = HEIGHT - BOTTOM;
  const y = (n: number) => plotHeight - (n / top) * (plotHeight - 8);
  const day = new Intl.DateTimeFormat(locale, { month: 'short', day: 'numeric' });
  const description =
    total === 0 ? t('chart.none') : t('chart.summary', { n: total, peak, at: localTime(new Date(from + peakAt * 3_600_000).toISOString(), locale) });
  return (
    <figure class="card chart">
      <figcaption>
        <h2>{t('chart.title')}</h2>
        <span class="legend">
          {hours.sdrs && (
            <span>
              <i class="swatch swatch-sdrs" /> {t('service.sdrs')}
            </span>
          )}
          {hours.kps && (
            <span>
              <i class="swatch swatch-kps" /> {t('service.kps')}
            </span>
          )}
        </span>
      </figcaption>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={description} preserveAspectRatio="none">
        <line x1={LEFT} y1={plotHeight} x2={WIDTH} y2={plotHeight} class="axis" />
        <text x={LEFT - 6} y={y(top) + 4} class="tick" text-anchor="end">
          {top}
        </text>
        <text x={LEFT - 6} y={plotHeight} class="tick" text-anchor="end">
          0
        </text>
        {totals.map((_, i) => {
          const s = sdrs[i] ?? 0;
          const k = kps[i] ?? 0;
          const x = LEFT + i * barWidth;
          return (
            <g key={i}>
              {s > 0 && <rect x={x} y={y(s)} width={Math.max(1, barWidth - 1)} height={plotHeight - y(s)} class="bar-sdrs" />}
              {k > 0 && <rect x={x} y={y(s + k)} width={Math.max(1, barWidth - 1)} height={y(s) - y(s + k)} class="bar-kps" />}
            </g>
          );
        })}
        {Array.from({ length: Math.ceil(count / 24) }, (_, d) => {
          // A tick at each local midnight would need the zone's offset; a day's first hour in UTC is close enough for a label.
          const x = LEFT + d * 24 * barWidth;
          return (
            <g key={`d${d}`}>
              <line x1={x} y1={plotHeight} x2={x} y2={plotHeight + 4} class="axis" />
              <text x={x + 2} y={HEIGHT - 6} class="tick">
                {day.format(new Date(from + d * 24 * 3_600_000))}
              </text>
            </g>
          );
        })}
      </svg>
      <p class="sub">{description}</p>
    </figure>
  );
}

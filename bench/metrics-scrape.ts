/** Reading values out of a Prometheus text page. */

export async function fetchMetrics(url: string, timeoutMs = 2_000): Promise<string | null> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) return null;
    return await response.text();
  } catch {
    return null;
  }
}

/**
 * The sum of every sample of metric `name` (all label sets), or null if there is none.
 * `name` is matched exactly: `foo_count` does not match `foo_count_total`.
 */
export function metricValue(page: string, name: string): number | null {
  let total: number | null = null;
  for (const line of page.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (!(rest.startsWith('{') || rest.startsWith(' '))) continue;
    const value = Number(rest.slice(rest.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) total = (total ?? 0) + value;
  }
  return total;
}

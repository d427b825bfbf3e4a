/**
 * A plain SVG line chart (no dependency): one panel per measure, database size on a log-2 x axis,
 * one coloured line per tool, with a legend and an optional dashed limit line.
 */

export interface ChartPoint {
  readonly x: number
  readonly y: number
}

export interface ChartSeries {
  readonly name: string
  readonly points: ReadonlyArray<ChartPoint>
}

export interface ChartPanel {
  readonly title: string
  readonly yLabel: string
  readonly series: ReadonlyArray<ChartSeries>
  /** A horizontal line (a target), drawn dashed and labelled. */
  readonly limit?: { readonly y: number; readonly label: string }
}

const colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
const width = 480
const height = 320
const margin = { left: 64, right: 16, top: 36, bottom: 48 }

const xmlText = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
const finite = (p: ChartPoint) => Number.isFinite(p.x) && Number.isFinite(p.y) && p.x > 0

/** A round step for about five ticks up to `max`. */
const niceStep = (max: number): number => {
  const raw = max / 5
  const power = 10 ** Math.floor(Math.log10(raw))
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power
}

const panelSvg = (panel: ChartPanel, offsetX: number, names: ReadonlyArray<string>, xLabel: string): string => {
  const points = panel.series.flatMap((s) => s.points.filter(finite))
  const xs = [...new Set(points.map((p) => p.x))].sort((a, b) => a - b)
  const lx = (x: number) => Math.log2(x)
  const [x0, x1] = xs.length === 0 ? [0, 1] : [lx(xs[0]!), lx(xs.at(-1)!)]
  const yMax = Math.max(1, ...points.map((p) => p.y), panel.limit?.y ?? 0) * 1.1
  const step = niceStep(yMax)
  const plotW = width - margin.left - margin.right
  const plotH = height - margin.top - margin.bottom
  const px = (x: number) => offsetX + margin.left + (x1 === x0 ? plotW / 2 : ((lx(x) - x0) / (x1 - x0)) * plotW)
  const py = (y: number) => margin.top + plotH - (y / yMax) * plotH
  const out: Array<string> = [
    `<text x="${offsetX + width / 2}" y="20" text-anchor="middle" font-weight="bold">${xmlText(panel.title)}</text>`,
    `<rect x="${offsetX + margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`,
  ]
  for (let y = 0; y <= yMax; y += step) {
    out.push(
      `<line x1="${offsetX + margin.left}" x2="${offsetX + margin.left + plotW}" y1="${py(y).toFixed(1)}" y2="${py(y).toFixed(1)}" stroke="#eee"/>`,
      `<text x="${offsetX + margin.left - 6}" y="${(py(y) + 4).toFixed(1)}" text-anchor="end">${y}</text>`,
    )
  }
  for (const x of xs) out.push(`<text x="${px(x).toFixed(1)}" y="${margin.top + plotH + 18}" text-anchor="middle">${x}</text>`)
  out.push(
    `<text x="${offsetX + margin.left + plotW / 2}" y="${height - 8}" text-anchor="middle">${xmlText(xLabel)}</text>`,
    `<text transform="translate(${offsetX + 16},${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle">${xmlText(panel.yLabel)}</text>`,
  )
  if (panel.limit !== undefined && panel.limit.y <= yMax) {
    const y = py(panel.limit.y).toFixed(1)
    out.push(
      `<line x1="${offsetX + margin.left}" x2="${offsetX + margin.left + plotW}" y1="${y}" y2="${y}" stroke="#000" stroke-dasharray="6 4"/>`,
      `<text x="${offsetX + margin.left + plotW - 4}" y="${Number(y) - 4}" text-anchor="end">${xmlText(panel.limit.label)}</text>`,
    )
  }
  for (const series of panel.series) {
    const colour = colours[names.indexOf(series.name) % colours.length]
    const ps = series.points.filter(finite).sort((a, b) => a.x - b.x)
    if (ps.length > 1) {
      out.push(`<polyline fill="none" stroke="${colour}" stroke-width="2" points="${ps.map((p) => `${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(" ")}"/>`)
    }
    for (const p of ps) out.push(`<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="3" fill="${colour}"/>`)
  }
  return out.join("\n")
}

/** The chart: panels side by side, a legend under them naming every series. */
export const lineChartSvg = (panels: ReadonlyArray<ChartPanel>, xLabel: string): string => {
  const names = [...new Set(panels.flatMap((p) => p.series.map((s) => s.name)))]
  const legendY = height + 8
  const total = { w: width * panels.length, h: legendY + 20 * names.length + 8 }
  const legend = names.map((name, i) => {
    const y = legendY + 20 * i + 10
    return `<rect x="${margin.left}" y="${y - 8}" width="14" height="4" fill="${colours[i % colours.length]}"/><text x="${margin.left + 20}" y="${y - 2}">${xmlText(name)}</text>`
  })
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${total.w}" height="${total.h}" viewBox="0 0 ${total.w} ${total.h}" font-family="sans-serif" font-size="12">`,
    `<title>${xmlText(panels.map((p) => p.title).join("; "))} against ${xmlText(xLabel)}</title>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    ...panels.map((p, i) => panelSvg(p, i * width, names, xLabel)),
    ...legend,
    "</svg>",
    "",
  ].join("\n")
}

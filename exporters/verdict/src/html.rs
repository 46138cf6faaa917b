//! One self-contained HTML report: inline CSS and inline SVG charts (latency percentiles and
//! throughput per step over time), no scripts, no external assets — it opens from a CI
//! artifact store or an e-mail attachment as it is.

use std::fmt::Write;

use crate::junit::escape;
use crate::report::{ChartSeries, Report, RuleOutcome, StepClass, Verdict, fmt_time};
use crate::text::{cells, headers, percent, seconds};

const W: f64 = 1000.0;
const H: f64 = 300.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 40.0;

fn class_colour(c: StepClass) -> (&'static str, &'static str) {
    // (band fill, text/badge colour)
    match c {
        StepClass::Healthy => ("#e6f4ea", "#1e7b34"),
        StepClass::Degraded => ("#fff4d6", "#a86b00"),
        StepClass::Breaking => ("#fde7e7", "#b3261e"),
        StepClass::NoData => ("#f1f1f1", "#666666"),
    }
}

fn verdict_colour(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "#1e7b34",
        Verdict::Fail => "#b3261e",
        Verdict::CouldNotEvaluate => "#555555",
        Verdict::Invalid => "#7a3fb0",
        Verdict::Unjudged => "#555555",
    }
}

struct Line<'a> {
    label: &'a str,
    colour: &'static str,
    series: Vec<&'a ChartSeries>,
}

struct Band {
    start: f64,
    end: f64,
    label: String,
    class: StepClass,
}

/// Round-ish axis maximum: 1, 2 or 5 times a power of ten.
fn nice_max(v: f64) -> f64 {
    if !(v.is_finite() && v > 0.0) {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if v <= m * p {
            return m * p;
        }
    }
    10.0 * p
}

/// How the y axis maps values.
#[derive(Clone, Copy, PartialEq)]
enum Scale {
    Linear,
    /// Powers of ten: steps of 140 and 40,000 req/s both readable on one chart.
    Log,
}

#[allow(clippy::too_many_arguments)]
fn chart(
    title: &str,
    fmt_y: fn(f64) -> String,
    lines: &[Line<'_>],
    bands: &[Band],
    t0: f64,
    t1: f64,
    scale: Scale,
) -> String {
    let span = (t1 - t0).max(1.0);
    let values = || {
        lines
            .iter()
            .flat_map(|l| l.series.iter().flat_map(|s| s.points.iter().map(|p| p.1)))
    };
    let ymax = nice_max(values().fold(0.0, f64::max) * 1.05);
    // Log axis: from a decade below the smallest positive value (so the slowest step
    // stands clear of the axis) to the power of ten above the largest.
    let lo = values()
        .filter(|v| *v > 0.0)
        .fold(f64::INFINITY, f64::min)
        .log10()
        .floor()
        - 1.0;
    let hi = ymax.log10().ceil();
    let scale = if scale == Scale::Log && lo.is_finite() && hi > lo {
        Scale::Log
    } else {
        Scale::Linear
    };
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let x = |t: f64| LEFT + (t - t0) / span * pw;
    let y = |v: f64| {
        let f = match scale {
            Scale::Linear => v / ymax,
            Scale::Log if v <= 0.0 => 0.0,
            Scale::Log => (v.log10() - lo) / (hi - lo),
        };
        TOP + ph - f.clamp(0.0, 1.0) * ph
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="{}">"#,
        escape(title)
    );
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="18" class="title">{}</text>"#,
        escape(title)
    );
    for b in bands {
        let (fill, ink) = class_colour(b.class);
        let (x0, x1) = (x(b.start.max(t0)), x(b.end.min(t1)));
        let _ = writeln!(
            s,
            r#"<rect x="{x0:.1}" y="{TOP}" width="{:.1}" height="{ph}" fill="{fill}"/><text x="{:.1}" y="{:.1}" fill="{ink}" class="band">{}</text>"#,
            (x1 - x0).max(1.0),
            x0 + 4.0,
            TOP + 12.0,
            escape(&b.label)
        );
    }
    // Grid and axes.
    let mut grid = String::new();
    let ticks: Vec<f64> = match scale {
        Scale::Linear => (0..=5).map(|i| ymax * i as f64 / 5.0).collect(),
        Scale::Log => (lo as i32..=hi as i32).map(|e| 10f64.powi(e)).collect(),
    };
    for v in ticks {
        let yy = y(v);
        let _ = write!(grid, "M{LEFT},{yy:.1}H{:.1}", W - RIGHT);
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" class="tick" text-anchor="end">{}</text>"#,
            LEFT - 6.0,
            yy + 4.0,
            fmt_y(v)
        );
    }
    for i in 0..=6 {
        let t = t0 + span * i as f64 / 6.0;
        let xx = x(t);
        let _ = write!(grid, "M{xx:.1},{TOP}V{:.1}", TOP + ph);
        let _ = writeln!(
            s,
            r#"<text x="{xx:.1}" y="{:.1}" class="tick" text-anchor="middle">{:.0} s</text>"#,
            TOP + ph + 16.0,
            t - t0
        );
    }
    let _ = writeln!(
        s,
        r##"<path d="{grid}" stroke="#d0d0d0" stroke-width="1" fill="none"/>"##
    );
    let _ = writeln!(
        s,
        r##"<path d="M{LEFT},{TOP}V{:.1}H{:.1}" stroke="#333" stroke-width="1.5" fill="none"/>"##,
        TOP + ph,
        W - RIGHT
    );
    let mut drawn = 0;
    for l in lines {
        for series in &l.series {
            let pts: Vec<String> = series
                .points
                .iter()
                .map(|p| format!("{:.1},{:.1}", x(p.0), y(p.1)))
                .collect();
            if pts.is_empty() {
                continue;
            }
            drawn += 1;
            let _ = writeln!(
                s,
                r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2" stroke-linejoin="round"/>"#,
                pts.join(" "),
                l.colour
            );
        }
    }
    if drawn == 0 {
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" class="empty" text-anchor="middle">no data</text>"#,
            LEFT + pw / 2.0,
            TOP + ph / 2.0
        );
    }
    // Legend.
    for (i, l) in lines.iter().enumerate() {
        let lx = LEFT + 90.0 * i as f64;
        let _ = writeln!(
            s,
            r#"<rect x="{lx:.1}" y="26" width="14" height="4" fill="{}"/><text x="{:.1}" y="32" class="tick">{}</text>"#,
            l.colour,
            lx + 18.0,
            escape(l.label)
        );
    }
    s.push_str("</svg>\n");
    s
}

const STYLE: &str = r#"
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px; color: #1f1f1f; background: #ffffff; }
h1 { font-size: 22px; margin: 0 0 4px 0; }
h3 { font-size: 15px; margin: 14px 0 6px 0; }
h2 { font-size: 17px; margin: 28px 0 8px 0; border-bottom: 1px solid #e0e0e0; padding-bottom: 4px; }
.meta { color: #555; font-size: 13px; }
.badge { display: inline-block; padding: 4px 12px; border-radius: 4px; color: #fff; font-weight: 600; }
.reason { margin: 10px 0; font-size: 14px; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0; }
th, td { border: 1px solid #d8d8d8; padding: 4px 8px; text-align: right; }
th { background: #f4f6f8; }
td.l, th.l { text-align: left; }
.chart { display: block; margin: 8px 0 18px 0; background: #fff; }
.chart .title { font-size: 14px; font-weight: 600; fill: #1f1f1f; }
.chart .tick { font-size: 11px; fill: #444; }
.chart .band { font-size: 11px; font-weight: 600; }
.chart .empty { font-size: 16px; fill: #888; }
ul.findings li { margin: 2px 0; }
.warn { color: #a86b00; }
"#;

/// A table: its opening (heading, `<table>`, header row), one line per row, the close.
fn table(h: &mut String, opening: &str, rows: impl Iterator<Item = String>) {
    let _ = writeln!(h, "{opening}");
    for row in rows {
        let _ = writeln!(h, "{row}");
    }
    let _ = writeln!(h, "</table>");
}

pub fn render(report: &Report) -> String {
    let mut h = String::new();
    let _ = writeln!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>redline verdict — {}</title>\n<style>{STYLE}</style>\n</head>\n<body>",
        escape(&report.testid)
    );
    let _ = writeln!(h, "<h1>redline verdict — {}</h1>", escape(&report.testid));
    let window = match (report.from, report.to) {
        (Some(f), Some(t)) => format!("{} .. {} ({:.0} s)", fmt_time(f), fmt_time(t), t - f),
        _ => "no run window".into(),
    };
    let _ = writeln!(
        h,
        "<div class=\"meta\">{} · Prometheus {} · generated {}</div>",
        escape(&window),
        escape(&report.prometheus),
        fmt_time(report.generated_at)
    );
    let _ = writeln!(
        h,
        "<p><span class=\"badge\" style=\"background:{}\">{} (exit {})</span></p>\n<p class=\"reason\">{}</p>",
        verdict_colour(report.verdict),
        report.verdict.as_str(),
        report.verdict.exit_code(),
        escape(&report.reason)
    );

    if !report.steps.is_empty() {
        let _ = writeln!(h, "<h2>Steps</h2>");
        let mut scenarios: Vec<&str> = report.steps.iter().map(|s| s.scenario.as_str()).collect();
        scenarios.dedup();
        for sc in scenarios {
            let rows: Vec<_> = report.steps.iter().filter(|r| r.scenario == sc).collect();
            let unit = rows.first().map(|r| r.unit.as_str()).unwrap_or("");
            let _ = writeln!(
                h,
                "<h3>Scenario {}</h3>\n<table>\n<tr>",
                escape(if sc.is_empty() { "(none)" } else { sc })
            );
            for (i, head) in headers(unit).iter().enumerate() {
                let cls = if i == 0 || i >= 7 { " class=\"l\"" } else { "" };
                let _ = write!(h, "<th{cls}>{}</th>", escape(head));
            }
            let _ = writeln!(h, "</tr>");
            for r in rows {
                let (_, ink) = class_colour(r.class());
                let _ = write!(h, "<tr>");
                for (i, c) in cells(r).iter().enumerate() {
                    let style = if i == 7 {
                        format!(" class=\"l\" style=\"color:{ink};font-weight:600\"")
                    } else if i == 0 || i == 8 {
                        " class=\"l\"".to_string()
                    } else {
                        String::new()
                    };
                    let _ = write!(h, "<td{style}>{}</td>", escape(c));
                }
                let _ = writeln!(h, "</tr>");
            }
            let _ = writeln!(h, "</table>");
        }
    }

    for f in &report.findings {
        let dash = |v: &Option<String>| escape(v.as_deref().unwrap_or("—"));
        let _ = writeln!(
            h,
            "<h2>Findings — {}</h2>\n<ul class=\"findings\">",
            escape(if f.scenario.is_empty() {
                "(none)"
            } else {
                &f.scenario
            })
        );
        let _ = writeln!(
            h,
            "<li><b>Baseline ({})</b>: p95 = {}, success = {}</li>",
            dash(&f.baseline),
            seconds(f.baseline_p95_seconds),
            percent(f.baseline_success_ratio)
        );
        let _ = writeln!(
            h,
            "<li><b>Degradation starts at</b>: {}</li>",
            dash(&f.degradation_starts_at)
        );
        if f.saturation_point.is_some() {
            let _ = writeln!(
                h,
                "<li><b>Saturation point</b>: {}</li>",
                dash(&f.saturation_point)
            );
        }
        let _ = writeln!(
            h,
            "<li><b>Breaking point</b>: {}</li>\n<li><b>Recommended safe limit</b>: {}</li>",
            dash(&f.breaking_point),
            dash(&f.recommended_safe_limit)
        );
        if !f.note.is_empty() {
            let _ = writeln!(h, "<li>{}</li>", escape(&f.note));
        }
        let _ = writeln!(h, "</ul>");
    }

    if !report.service_account_creation.is_empty() {
        table(
            &mut h,
            "<h2>ServiceAccount creation per step</h2>\n<table>\n<tr><th>Step</th><th>ServiceAccounts</th><th>mean</th><th>p50</th><th>p95</th></tr>",
            report.service_account_creation.iter().map(|s| {
                format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(&s.step),
                    crate::report::fmt_count(s.service_accounts),
                    seconds(s.mean_seconds),
                    seconds(s.p50_seconds),
                    seconds(s.p95_seconds)
                )
            }),
        );
    }

    if let (Some(t0), Some(t1)) = (report.from, report.to) {
        let bands: Vec<Band> = report
            .steps
            .iter()
            .map(|r| Band {
                start: r.start,
                end: r.end,
                label: format!("{} · {}", crate::steps::level_label(r), r.class().as_str()),
                class: r.class(),
            })
            .collect();
        let pick = |sig: &str| -> Vec<&ChartSeries> {
            report.charts.iter().filter(|c| c.signal == sig).collect()
        };
        let _ = writeln!(h, "<h2>Charts</h2>");
        h.push_str(&chart(
            "Request latency percentiles per step (recorded redline:http_req_duration_seconds)",
            |v| seconds(Some(v)),
            &[
                Line {
                    label: "p50",
                    colour: "#1a73e8",
                    series: pick("p50"),
                },
                Line {
                    label: "p95",
                    colour: "#e8710a",
                    series: pick("p95"),
                },
                Line {
                    label: "p99",
                    colour: "#c5221f",
                    series: pick("p99"),
                },
            ],
            &bands,
            t0,
            t1,
            Scale::Linear,
        ));
        // Log scale: every step's rate readable next to a much faster one.
        h.push_str(&chart(
            "Throughput per step, requests/s (log scale; counter increase between pushes)",
            |v| format!("{v:.1}"),
            &[Line {
                label: "req/s",
                colour: "#188038",
                series: pick("rps"),
            }],
            &bands,
            t0,
            t1,
            Scale::Log,
        ));
    }

    if let Some(inv) = &report.invalid {
        let _ = writeln!(
            h,
            "<h2>Invalid run</h2>\n<p>{:.0} of {:.0} requests got an HTTP response. Dominant error: <b>{}</b> ({:.0}).</p>",
            inv.responded,
            inv.requests,
            escape(&inv.dominant_error),
            inv.dominant_count
        );
    }

    let _ = writeln!(h, "<h2>Alerts that fired</h2>");
    if report.alerts.is_empty() {
        let _ = writeln!(h, "<p>None.</p>");
    } else {
        table(
            &mut h,
            "<table>\n<tr><th class=\"l\">Alert</th><th class=\"l\">Verdict</th><th class=\"l\">Scenario/step</th><th class=\"l\">Firing</th><th class=\"l\">Summary</th></tr>",
            report.alerts.iter().map(|a| {
                format!(
                    "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}/{}</td><td class=\"l\">{} .. {}</td><td class=\"l\">{}</td></tr>",
                    escape(&a.alertname),
                    escape(&a.verdict),
                    escape(&a.scenario),
                    escape(&a.step),
                    fmt_time(a.first_firing),
                    fmt_time(a.last_firing),
                    escape(&a.summary)
                )
            }),
        );
    }

    if !report.rules.is_empty() {
        let _ = writeln!(h, "<h2>Alert rules ({})</h2>", report.rules.len());
        let rows = report.rules.iter().map(|r| {
            let (colour, word) = match r.outcome {
                RuleOutcome::Passed => ("#1e7b34", "passed"),
                RuleOutcome::Warned => ("#a86b00", "warned"),
                RuleOutcome::Failed => ("#b3261e", "failed"),
                RuleOutcome::Error => ("#555555", "rule error"),
                RuleOutcome::NotLoaded => ("#555555", "not loaded"),
                RuleOutcome::NoData => ("#888888", "no data"),
            };
            format!(
                "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\" style=\"color:{colour};font-weight:600\">{word}</td></tr>",
                escape(&r.rule.name),
                escape(&r.rule.group),
                escape(&r.rule.severity)
            )
        });
        table(
            &mut h,
            "<table>\n<tr><th class=\"l\">Rule</th><th class=\"l\">Group</th><th class=\"l\">Severity</th><th class=\"l\">Outcome</th></tr>",
            rows,
        );
    }
    for w in &report.warnings {
        let _ = writeln!(h, "<p class=\"warn\">Warning: {}</p>", escape(w));
    }
    h.push_str("</body>\n</html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_maxima_are_round() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(0.37), 0.5);
        assert_eq!(nice_max(1.2), 2.0);
        assert_eq!(nice_max(73.0), 100.0);
    }

    /// A chart of one line over 0..10 s without bands, values printed as they are.
    fn one_line_chart(title: &str, label: &str, series: &[ChartSeries], scale: Scale) -> String {
        let line = Line {
            label,
            colour: "#000",
            series: series.iter().collect(),
        };
        chart(title, |v| format!("{v}"), &[line], &[], 0.0, 10.0, scale)
    }

    #[test]
    fn charts_draw_one_polyline_per_step_series() {
        let series = [
            ChartSeries {
                signal: "p95".into(),
                scenario: "s".into(),
                step: "1".into(),
                points: vec![(0.0, 0.1), (5.0, 0.2)],
            },
            ChartSeries {
                signal: "p95".into(),
                scenario: "s".into(),
                step: "2".into(),
                points: vec![(6.0, 0.3), (9.0, 0.4)],
            },
        ];
        let svg = one_line_chart("t <&>", "p95", &series, Scale::Linear);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("t &lt;&amp;&gt;"));
        assert!(!svg.contains("no data"));
        let empty = chart("e", |v| format!("{v}"), &[], &[], 0.0, 1.0, Scale::Log);
        assert!(empty.contains("no data"));
    }

    #[test]
    fn log_scale_keeps_a_slow_step_off_the_axis() {
        // 140 req/s next to 37,500 req/s: on a linear axis the slow step sits on the floor.
        let series = [ChartSeries {
            signal: "rps".into(),
            scenario: "s".into(),
            step: "1".into(),
            points: vec![(0.0, 140.0), (5.0, 140.0), (6.0, 37_500.0), (9.0, 37_500.0)],
        }];
        let draw = |scale| one_line_chart("rps", "req/s", &series, scale);
        // The y of the slow step's first point, in pixels above the x axis.
        let height = |svg: &str| {
            let pts = svg.split("points=\"").nth(1).unwrap();
            let y: f64 = pts
                .split(' ')
                .next()
                .unwrap()
                .split(',')
                .nth(1)
                .unwrap()
                .parse()
                .unwrap();
            TOP + (H - TOP - BOTTOM) - y
        };
        let (lin, log) = (draw(Scale::Linear), draw(Scale::Log));
        assert!(height(&lin) < 2.0, "linear: {}", height(&lin));
        assert!(height(&log) > 50.0, "log: {}", height(&log));
        // Ticks at powers of ten, 10 .. 100k.
        assert!(log.contains(">10<") && log.contains(">100000<"), "{log}");
    }

    /// The three list tables: a header, one escaped row per entry, closed, in order.
    #[test]
    fn tables_have_a_row_per_entry_and_are_closed() {
        use crate::report::{FiredAlert, RuleResult, SaCreationStep};
        use crate::rules::AlertRule;

        let mut report = Report::new("t1", "http://prom");
        report.service_account_creation = vec![SaCreationStep {
            step: "s<1>".into(),
            level: Some(10.0),
            service_accounts: 1200.0,
            mean_seconds: Some(0.25),
            p50_seconds: Some(0.2),
            p95_seconds: None,
        }];
        report.alerts = vec![FiredAlert {
            alertname: "RedlineLatencyBreaking".into(),
            severity: "critical".into(),
            verdict: "fail".into(),
            scenario: "burst".into(),
            step: "2".into(),
            labels: Default::default(),
            first_firing: 0.0,
            last_firing: 60.0,
            summary: "p95 & more".into(),
        }];
        let rule = |name: &str| AlertRule {
            name: name.into(),
            group: "g".into(),
            file: String::new(),
            severity: "warning".into(),
            verdict: "warn".into(),
            expr: "up".into(),
            for_seconds: 0.0,
            summary: String::new(),
            health: String::new(),
            last_error: String::new(),
        };
        report.rules = [("A", RuleOutcome::Passed), ("B", RuleOutcome::Failed)]
            .into_iter()
            .map(|(n, outcome)| RuleResult {
                rule: rule(n),
                outcome,
                fired: 0,
                message: String::new(),
            })
            .collect();
        let h = render(&report);

        assert!(
            h.contains("<h2>ServiceAccount creation per step</h2>\n<table>\n<tr><th>Step</th>")
        );
        assert!(h.contains("<tr><td>s&lt;1&gt;</td><td>1200</td>"), "{h}");
        assert!(
            h.contains("<td class=\"l\">p95 &amp; more</td></tr>\n</table>\n"),
            "{h}"
        );
        assert!(h.contains("<h2>Alert rules (2)</h2>\n<table>\n<tr><th class=\"l\">Rule</th>"));
        let a = h.find("<tr><td class=\"l\">A</td>").expect("row A");
        let b = h.find("<tr><td class=\"l\">B</td>").expect("row B");
        assert!(
            a < b && h[b..].contains("failed</td></tr>\n</table>\n"),
            "{h}"
        );
        assert_eq!(h.matches("<table>").count(), h.matches("</table>").count());
    }
}

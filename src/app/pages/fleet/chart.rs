//! The fleet page's two pictures as markup text, set with `inner_html`: the health grid (one plain
//! `<a>` per minion, so 10,000 tiles cost one string and no signal each) and the compliance chart
//! (one SVG, a stacked bar per state job). Colours come from the `health-<status>` classes.

use crate::app::api::overview::{url_path_escape, xml_escape};
use crate::app::pages::overview::nice_ceiling;
use crate::model::fleet::{ComplianceBucket, HealthStatus, HealthTile};

/// Worst first: the grid's order and the order of the legend.
pub const WORST_FIRST: [HealthStatus; 6] = [
    HealthStatus::Unhealthy,
    HealthStatus::Blocked,
    HealthStatus::Stale,
    HealthStatus::Changed,
    HealthStatus::Unknown,
    HealthStatus::Healthy,
];

/// Rank of a status in [`WORST_FIRST`].
pub fn severity(s: HealthStatus) -> usize {
    WORST_FIRST.iter().position(|w| *w == s).unwrap_or(0)
}

/// The grid's tile size for a fleet of `n` minions (a class of `.fleet-grid`).
pub fn grid_size_class(n: usize) -> &'static str {
    match n {
        0..=200 => "tiles-l",
        201..=2000 => "tiles-m",
        _ => "tiles-s",
    }
}

/// The tiles, problems first then by minion id: each a link to its minion with the title
/// `<minion>: <status>`.
pub fn grid_html(tiles: &[HealthTile]) -> String {
    let mut v: Vec<&HealthTile> = tiles.iter().collect();
    v.sort_by(|a, b| {
        severity(a.status)
            .cmp(&severity(b.status))
            .then_with(|| a.minion_id.cmp(&b.minion_id))
    });
    let mut out = String::with_capacity(tiles.len() * 170);
    for t in v {
        let id = xml_escape(&t.minion_id);
        let s = t.status.as_str();
        out.push_str(&format!(
            r#"<a class="fleet-tile health-{s}" href="/minions/{}" title="{id}: {s}" data-test="fleet-tile" data-minion="{id}" data-status="{s}"></a>"#,
            url_path_escape(&t.minion_id)
        ));
    }
    out
}

/// An axis value short enough for the margin: `500`, `5000`, `20k`.
fn tick_text(v: i64) -> String {
    if v >= 10_000 && v % 1000 == 0 {
        format!("{}k", v / 1000)
    } else {
        v.to_string()
    }
}

/// `2026-11-27T08:53:05Z` -> `27 Nov 08:53`.
fn short_label(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%d %b %H:%M").to_string()
}

/// The compliance chart: one stacked bar per state job (oldest left), passed at the bottom, then
/// changed, failed and blocked, on a minion-count axis; each bar links to its job and has a hover
/// title with its JID, function, time and counts.
pub fn compliance_svg(buckets: &[ComplianceBucket]) -> String {
    const W: f64 = 720.0;
    const H: f64 = 220.0;
    const X0: f64 = 40.0;
    const X1: f64 = W - 8.0;
    const Y0: f64 = 12.0;
    const Y1: f64 = H - 28.0;
    let n = buckets.len().max(1);
    let top = nice_ceiling(buckets.iter().map(|b| b.minions).max().unwrap_or(0));
    // Bars keep a sensible width when there are only a few runs.
    let col = ((X1 - X0) / n as f64).min(56.0);
    let bar = (col * 0.72).max(1.0);
    let scale = (Y1 - Y0) / top as f64;
    let mut out = String::with_capacity(1_000 + buckets.len() * 900);
    out.push_str(&format!(
        r#"<svg class="compliance-svg" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="group" aria-label="Minions passed, changed, failed and blocked per state run, oldest first">"#
    ));
    for v in [0, top / 2, top] {
        if v == top / 2 && (top % 2 != 0 || top < 2) {
            continue;
        }
        let y = Y1 - v as f64 * scale;
        out.push_str(&format!(
            r#"<line class="act-grid" x1="{X0}" y1="{y:.1}" x2="{X1}" y2="{y:.1}"/><text class="act-tick" x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            X0 - 8.0,
            y + 4.0,
            tick_text(v)
        ));
    }
    let label_every = n.div_ceil(6).max(1);
    for (i, b) in buckets.iter().enumerate() {
        let x = X0 + col * i as f64 + (col - bar) / 2.0;
        let jid = xml_escape(&b.jid);
        let title = format!(
            "{} · {} · {}\n{} passed · {} changed · {} failed · {} blocked · {} minion{}",
            b.jid,
            b.fun,
            crate::model::time::short_utc(&b.completed_at),
            b.passed,
            b.changed,
            b.failed,
            b.blocked,
            b.minions,
            if b.minions == 1 { "" } else { "s" }
        );
        out.push_str(&format!(
            r#"<g class="cbar" data-test="compliance-bar" data-jid="{jid}"><title>{}</title><a href="/jobs/{}" aria-label="{}"><rect class="cbar-hit" x="{:.1}" y="{Y0}" width="{col:.1}" height="{:.1}"/>"#,
            xml_escape(&title),
            url_path_escape(&b.jid),
            xml_escape(&title),
            X0 + col * i as f64,
            Y1 - Y0
        ));
        let mut y = Y1;
        for (status, count) in [
            (HealthStatus::Healthy, b.passed),
            (HealthStatus::Changed, b.changed),
            (HealthStatus::Unhealthy, b.failed),
            (HealthStatus::Blocked, b.blocked),
        ] {
            if count <= 0 {
                continue;
            }
            // A segment of a few minions out of thousands stays visible.
            let h = (count as f64 * scale).max(2.0);
            y -= h;
            out.push_str(&format!(
                r#"<rect class="cbar-seg health-{status}" x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{h:.1}"/>"#
            ));
        }
        out.push_str("</a></g>");
        if i % label_every == 0 || (i + 1 == buckets.len() && i % label_every > label_every / 2) {
            out.push_str(&format!(
                r#"<text class="act-tick" x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
                x + bar / 2.0,
                H - 9.0,
                short_label(&b.completed_at)
            ));
        }
    }
    out.push_str(&format!(
        r#"<line class="act-axis" x1="{X0}" y1="{Y1}" x2="{X1}" y2="{Y1}"/></svg>"#
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn grid_orders_problems_first_and_escapes() {
        let tiles = vec![
            HealthTile {
                minion_id: "a-ok".into(),
                status: HealthStatus::Healthy,
            },
            HealthTile {
                minion_id: "web<1>\"".into(),
                status: HealthStatus::Unhealthy,
            },
            HealthTile {
                minion_id: "b-blocked".into(),
                status: HealthStatus::Blocked,
            },
        ];
        let html = grid_html(&tiles);
        assert_eq!(html.matches(r#"data-test="fleet-tile""#).count(), 3);
        let first = html.find("web&lt;1&gt;&quot;").unwrap();
        assert!(first < html.find("b-blocked").unwrap());
        assert!(html.find("b-blocked").unwrap() < html.find("a-ok").unwrap());
        assert!(html.contains(r#"href="/minions/web%3C1%3E%22""#));
        assert!(html.contains(r#"title="a-ok: healthy""#));
        assert!(html.contains(r#"class="fleet-tile health-blocked""#));
        assert!(!html.contains("web<1>"), "ids are escaped");
        let big: Vec<HealthTile> = (0..10_000)
            .map(|i| HealthTile {
                minion_id: format!("m{i:05}"),
                status: HealthStatus::Healthy,
            })
            .collect();
        assert_eq!(grid_html(&big).matches("<a ").count(), 10_000);
        assert_eq!(grid_size_class(10_000), "tiles-s");
        assert_eq!(grid_size_class(12), "tiles-l");
    }

    #[test]
    fn compliance_bars() {
        let b = |jid: &str, passed, changed, failed, blocked| ComplianceBucket {
            jid: jid.into(),
            fun: "state.highstate".into(),
            completed_at: at("2026-11-30T08:00:00Z"),
            minions: passed + changed + failed + blocked,
            passed,
            changed,
            failed,
            blocked,
        };
        let svg = compliance_svg(&[b("20261130080000000001", 7, 2, 1, 0), b("j<2>", 3, 0, 0, 4)]);
        assert_eq!(svg.matches(r#"data-test="compliance-bar""#).count(), 2);
        assert!(svg.contains(r#"data-jid="20261130080000000001""#));
        assert!(svg.contains(r#"data-jid="j&lt;2&gt;""#));
        assert!(svg.contains("7 passed · 2 changed · 1 failed · 0 blocked · 10 minions"));
        assert!(svg.contains(r#"href="/jobs/20261130080000000001""#));
        // Zero counts draw no segment: 3 in the first bar, 2 in the second.
        assert_eq!(svg.matches("cbar-seg").count(), 5);
        assert!(svg.contains("cbar-seg health-blocked"));
        assert!(
            svg.contains(">10</text>"),
            "the axis tops out at 10 minions"
        );
        assert!(compliance_svg(&[]).starts_with("<svg"));
        assert_eq!(tick_text(20_000), "20k");
        assert_eq!(tick_text(5_000), "5000");
    }
}

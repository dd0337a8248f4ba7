//! What the benchmark programs share: reading the process's memory figures and writing a
//! program's section of BENCHMARKS.md.
#![allow(dead_code)]

/// A `/proc/self/status` figure given in kB (`VmHWM:`, `VmRSS:`), in MB.
pub fn proc_status_mb(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with(key)).map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse::<f64>()
                    .unwrap_or(0.0)
            })
        })
        .unwrap_or(0.0)
        / 1024.0
}

/// The process's peak RSS so far, in MB.
pub fn peak_rss_mb() -> f64 {
    proc_status_mb("VmHWM:")
}

/// Put `section` (which starts with `<!-- name:start -->` and ends with `<!-- name:end -->`)
/// into BENCHMARKS.md in place of the program's previous section, or at the end; and print it.
pub fn write_section(name: &str, section: &str) {
    let (start, end) = (
        format!("<!-- {name}:start -->"),
        format!("<!-- {name}:end -->"),
    );
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("BENCHMARKS.md");
    let old = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        "# Benchmarks\n\nFigures written by the benchmark programs; re-run them to refresh.\n\n"
            .into()
    });
    let new = match (old.find(&start), old.find(&end)) {
        (Some(a), Some(b)) => format!("{}{}{}", &old[..a], section, &old[b + end.len()..]),
        _ => format!("{old}\n{section}\n"),
    };
    std::fs::write(&path, new).unwrap();
    println!("{section}");
}

//! The goroutine count, from the text form of `/debug/pprof/goroutine?debug=1`.

/// The total goroutine count from `/debug/pprof/goroutine?debug=1`, whose first line is
/// `goroutine profile: total N`.
pub fn parse_goroutine_total(text: &str) -> Option<u64> {
    text.lines()
        .take(4)
        .find_map(|l| l.trim().strip_prefix("goroutine profile: total "))
        .and_then(|n| n.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goroutine_text_total() {
        let text = "goroutine profile: total 24\n2 @ 0x43ef76 0x44ee1c\n";
        assert_eq!(parse_goroutine_total(text), Some(24));
        assert_eq!(parse_goroutine_total("<html>"), None);
    }
}
